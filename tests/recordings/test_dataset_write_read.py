"""The Parquet dataset: what the writer puts where, typed reads through DuckDB and pyarrow, rotation,
bounded memory and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.dataset as pds
import pyarrow.parquet as pq
import pytest
from recording_frames import LINEAR, SPOT, T0, book_frame, kline_frame, ticker_frame, trade_frame

import rxbybit as rb
from rxbybit.recordings import PARTITION_SCHEMA, DatasetWriter


def _write_sample(root: Path, n: int = 20) -> None:
    with DatasetWriter(root) as w:
        for i in range(n):
            t = (T0 + i * 1000) / 1000 + 0.05
            w.write(LINEAR, trade_frame(i), t)
            w.write(LINEAR, book_frame(i + 1, snapshot=i == 0), t)
            w.write(SPOT, trade_frame(i, "ETHUSDT", count=1), t)
            w.write(LINEAR, kline_frame(i // 5, confirm=i % 5 == 4), t)
            w.write(LINEAR, ticker_frame(i), t)


def test_layout_is_hive_partitioned_with_complete_files_only(tmp_path: Path) -> None:
    _write_sample(tmp_path)
    files = sorted(str(p.relative_to(tmp_path).parent) for p in tmp_path.rglob("*.parquet"))
    assert files == [
        "category=linear/topic=kline.1/symbol=BTCUSDT/date=2026-11-22",
        "category=linear/topic=orderbook.50/symbol=BTCUSDT/date=2026-11-22",
        "category=linear/topic=publicTrade/symbol=BTCUSDT/date=2026-11-22",
        "category=linear/topic=tickers/symbol=BTCUSDT/date=2026-11-22",
        "category=spot/topic=publicTrade/symbol=ETHUSDT/date=2026-11-22",
    ]
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]


def test_trades_are_typed_utc_and_filtered_by_time(tmp_path: Path) -> None:
    _write_sample(tmp_path)
    ds = rb.dataset(tmp_path)
    df = ds.trades("BTCUSDT")
    assert len(df) == 40
    assert str(df["trade_time"].dt.tz) == "UTC" and str(df["recv_time"].dt.tz) == "UTC"
    assert df["price"].dtype == "float64" and df["size"].dtype == "float64"
    assert pd.api.types.is_string_dtype(df["side"]) and pd.api.types.is_string_dtype(df["trade_id"])
    assert df["trade_time"].iloc[0] == pd.Timestamp(T0, unit="ms", tz="UTC")
    assert df["price"].iloc[:4].tolist() == [60000.0, 60000.1, 60001.0, 60001.1]
    assert df["side"].iloc[:2].tolist() == ["Buy", "Sell"]
    window = ds.trades("BTCUSDT", start=T0 + 3000, end=pd.Timestamp(T0 + 6000, unit="ms", tz="UTC"))
    assert window["trade_id"].tolist() == ["3-0", "3-1", "4-0", "4-1", "5-0", "5-1"]
    iso = ds.trades("BTCUSDT", start="2026-11-22 01:48:08", end="2026-11-22T01:48:09Z")
    assert iso["trade_id"].tolist() == ["3-0", "3-1"]
    spot = ds.trades("ETHUSDT", category="spot")
    assert len(spot) == 20 and set(spot["category"]) == {"spot"}
    assert ds.trades("BTCUSDT", category="spot").empty


def test_an_empty_answer_has_the_columns_and_types_of_a_full_one(tmp_path: Path) -> None:
    _write_sample(tmp_path)
    ds = rb.dataset(tmp_path)
    full, empty = ds.trades("BTCUSDT"), ds.trades("SOLUSDT")
    assert empty.empty and list(empty.columns) == list(full.columns)
    assert str(empty["trade_time"].dtype).startswith("datetime64") and empty["price"].dtype == "float64"


def test_book_updates_and_klines(tmp_path: Path) -> None:
    _write_sample(tmp_path)
    ds = rb.dataset(tmp_path)
    book = ds.book_updates("BTCUSDT")
    assert book["u"].tolist() == list(range(1, 21))
    assert book["type"].tolist() == ["snapshot"] + ["delta"] * 19
    assert list(book["bid_prices"].iloc[0]) == [59998.0, 59990.0] and list(book["bid_sizes"].iloc[0]) == [1.5, 0.0]
    assert list(book["ask_prices"].iloc[2]) == [60001.0]
    assert book["cts"].iloc[0] == pd.Timestamp(T0 + 100 - 3, unit="ms", tz="UTC")
    assert ds.book_updates("BTCUSDT", depth=1).empty
    klines = ds.klines("BTCUSDT", "1")
    assert len(klines) == 20 and klines["close"].iloc[-1] == 104.0
    closed = ds.klines("BTCUSDT", 1, confirmed_only=True)
    assert closed["close"].tolist() == [101.0, 102.0, 103.0, 104.0] and closed["confirm"].all()


def test_pyarrow_reads_the_same_dataset_unchanged(tmp_path: Path) -> None:
    _write_sample(tmp_path)
    part = pds.partitioning(PARTITION_SCHEMA, flavor="hive")
    trades = pds.dataset(tmp_path / "category=linear" / "topic=publicTrade", format="parquet",
                         partitioning=pds.partitioning(PARTITION_SCHEMA.remove(0).remove(0), flavor="hive"))
    table = trades.to_table(columns=["trade_time", "price", "trade_id", "symbol", "date"])
    assert table.num_rows == 40 and set(table.column("date").to_pylist()) == {"2026-11-22"}
    ref = rb.dataset(tmp_path).trades("BTCUSDT")
    got = table.to_pandas().sort_values(["trade_time", "trade_id"])
    assert got["price"].tolist() == ref["price"].tolist()
    whole = pds.dataset(tmp_path, format="parquet", partitioning=part)
    eth = whole.to_table(filter=(pds.field("symbol") == "ETHUSDT") & (pds.field("category") == "spot"))
    assert eth.num_rows == 20
    # every frame once, with its raw text, across all kinds
    frames = whole.to_table(columns=["frame"], filter=pds.field("frame").is_valid()).column("frame").to_pylist()
    assert len(frames) == 100 and all(json.loads(f)["topic"] for f in frames)


def test_files_rotate_by_size_and_every_row_is_kept(tmp_path: Path) -> None:
    with DatasetWriter(tmp_path, max_file_bytes=4_000, row_group_rows=20) as w:
        for i in range(400):
            w.write(LINEAR, trade_frame(i), (T0 + i) / 1000)
        w.wait()
        sealed_while_running = len(w.files)
    assert sealed_while_running >= 3
    files = list(tmp_path.rglob("*.parquet"))
    assert len(files) == len(w.files) and all(pq.read_metadata(f).num_rows > 0 for f in files)
    ids = rb.dataset(tmp_path).trades("BTCUSDT")["trade_id"].tolist()
    assert ids == [f"{i}-{k}" for i in range(400) for k in range(2)]


def test_files_rotate_by_time_and_by_day(tmp_path: Path) -> None:
    now = [T0 / 1000]
    w = DatasetWriter(tmp_path, max_file_seconds=10, row_group_rows=5, clock=lambda: now[0])
    for i in range(30):  # one frame a second: a file closes every ~10 s
        now[0] = T0 / 1000 + i
        w.write(LINEAR, trade_frame(i), now[0])
    w.wait()
    assert len(w.files) >= 2
    day2 = T0 + 86_400_000
    now[0] = day2 / 1000
    w.write(LINEAR, trade_frame(0, ts=day2), now[0])
    w.close()
    dates = sorted({p.parent.name for p in tmp_path.rglob("*.parquet")})
    assert dates == ["date=2026-11-22", "date=2026-11-23"]
    assert len(rb.dataset(tmp_path).trades("BTCUSDT")) == 62


def test_memory_is_bounded_across_many_partitions(tmp_path: Path) -> None:
    w = DatasetWriter(tmp_path, row_group_rows=10_000, max_buffered_rows=300)
    peak = 0
    for i in range(2_000):
        w.write(LINEAR, trade_frame(i, symbol=f"S{i % 50}USDT"), (T0 + i) / 1000)
        peak = max(peak, w.buffered_rows)
    w.close()
    assert peak <= 300 + 2  # the limit plus one frame's rows
    assert w.buffered_rows == 0
    assert len(rb.dataset(tmp_path).trades("S7USDT")) == 80


def test_bad_input_is_counted_and_the_rest_still_recorded(tmp_path: Path) -> None:
    with DatasetWriter(tmp_path) as w:
        assert w.write(LINEAR, trade_frame(0), T0 / 1000)
        assert not w.write(LINEAR, "not json at all {", T0 / 1000)
        assert not w.write(LINEAR, json.dumps({"op": "pong", "ret_msg": "pong"}), T0 / 1000)
        assert not w.write(LINEAR, json.dumps({"topic": "../../etc", "data": []}), T0 / 1000)
        with pytest.raises(ValueError, match="unknown socket path"):
            w.write("/v5/nowhere", trade_frame(1))
        odd = {"topic": "publicTrade.BTCUSDT", "ts": T0, "data": [{"T": T0, "p": "x", "i": "odd"}]}
        assert w.write(LINEAR, json.dumps(odd), T0 / 1000)
        assert w.write(LINEAR, trade_frame(2), T0 / 1000)
    assert (w.frames, w.skipped) == (3, 3)
    df = rb.dataset(tmp_path).trades("BTCUSDT")
    assert df["trade_id"].tolist() == ["0-0", "0-1", "odd", "2-0", "2-1"]
    assert df["price"].isna().tolist() == [False, False, True, False, False]  # what could not be read is null
    assert len(rb.dataset(tmp_path).frames()) == 3  # and every stored frame keeps its raw text
    with pytest.raises(RuntimeError, match="closed"):
        w.write(LINEAR, trade_frame(3))


def test_bad_queries_say_what_was_wrong(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no dataset"):
        rb.dataset(tmp_path / "missing")
    _write_sample(tmp_path, 2)
    ds = rb.dataset(tmp_path)
    with pytest.raises(ValueError, match="not a time"):
        ds.trades("BTCUSDT", start="yesterday-ish")
    with pytest.raises(ValueError, match="symbol"):
        ds.trades("../BTC")
    with pytest.raises(ValueError, match="interval"):
        ds.klines("BTCUSDT", "7")


def test_the_summary_command_queries_the_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rxbybit.recordings.__main__ import main

    _write_sample(tmp_path, 6)
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "orderbook.50 BTCUSDT" in out and "publicTrade BTCUSDT" in out
    assert "last trades of BTCUSDT (12 in all)" in out and "60005.1" in out
    assert main([str(tmp_path / "nothing")]) == 1


def test_parquet_is_written_off_the_callers_thread_and_failures_surface(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import rxbybit.recordings.writer as writer_module

    threads: set[str] = set()
    real = writer_module.pq.ParquetWriter

    class Spy(real):  # type: ignore[misc,valid-type]
        def write_table(self, *args: object, **kwargs: object) -> None:
            threads.add(threading.current_thread().name)
            super().write_table(*args, **kwargs)

    monkeypatch.setattr(writer_module.pq, "ParquetWriter", Spy)
    with DatasetWriter(tmp_path / "ok", row_group_rows=10) as w:
        for i in range(50):
            w.write(LINEAR, trade_frame(i), (T0 + i) / 1000)
    assert threads and threading.current_thread().name not in threads
    assert len(rb.dataset(tmp_path / "ok").trades("BTCUSDT")) == 100

    class Full(real):  # type: ignore[misc,valid-type]
        def write_table(self, *args: object, **kwargs: object) -> None:
            raise OSError("No space left on device")

    monkeypatch.setattr(writer_module.pq, "ParquetWriter", Full)
    w = DatasetWriter(tmp_path / "full", row_group_rows=10)
    with pytest.raises(OSError, match="No space left"):
        for i in range(50):
            w.write(LINEAR, trade_frame(i), (T0 + i) / 1000)
        w.close()
    with pytest.raises(OSError, match="No space left"):
        w.close()  # still failing, and the writer thread is stopped all the same
    assert w.closed


def test_a_failure_seen_first_by_close_is_raised_by_every_later_call(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Whichever call sees a failed background write first (a write, or close on a loaded machine), the
    writer stays failed: close raises it again, and a write after it raises it instead of buffering on."""
    import threading

    import rxbybit.recordings.writer as writer_module

    gate = threading.Event()
    real = writer_module.pq.ParquetWriter

    class SlowFull(real):  # type: ignore[misc,valid-type]
        def write_table(self, *args: object, **kwargs: object) -> None:
            gate.wait(30)  # held until every write has returned: only close can see the failure
            raise OSError("No space left on device")

    monkeypatch.setattr(writer_module.pq, "ParquetWriter", SlowFull)
    w = DatasetWriter(tmp_path / "full", row_group_rows=10)
    for i in range(20):
        w.write(LINEAR, trade_frame(i), (T0 + i) / 1000)
    gate.set()
    with pytest.raises(OSError, match="No space left"):
        w.close()
    with pytest.raises(OSError, match="No space left"):
        w.close()
    with pytest.raises(OSError, match="No space left"):
        w.write(LINEAR, trade_frame(99), (T0 + 99) / 1000)
    assert w.closed
