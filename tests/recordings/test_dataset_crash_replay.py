"""A killed recorder never breaks the dataset; a dataset replays into the client's observables
with books exact to the recorded ``u``; ``rxbybit record --format parquet``."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as pds
import pyarrow.parquet as pq
import pytest
from helpers import eventually, scaled
from reactivex import operators as ops
from recording_frames import LINEAR, T0, trade_frame

import rxbybit as rb
from rxbybit.cli import main
from rxbybit.recordings import PARTITION_SCHEMA, DatasetWriter
from rxbybit.sim import ReplayServer, Simulator

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys, time
sys.path[:0] = [{root!r}, {here!r}]
from recording_frames import LINEAR, T0, trade_frame
from rxbybit.recordings import DatasetWriter
w = DatasetWriter(sys.argv[1], max_file_bytes=6_000, row_group_rows=25)
deadline = time.monotonic() + 120
i = 0
while time.monotonic() < deadline:  # bounded: the test kills it long before
    w.write(LINEAR, trade_frame(i), (T0 + i) / 1000)
    i += 1
"""


def _complete(root: Path) -> list[Path]:
    return list(root.rglob("*.parquet"))


def _partial(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*.tmp") if p.stat().st_size > 4]


async def test_a_recorder_killed_mid_write_leaves_a_readable_dataset(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    code = CHILD.format(root=str(ROOT), here=str(Path(__file__).parent))
    child = subprocess.Popen([sys.executable, "-c", code, str(root)], stderr=subprocess.PIPE)
    try:
        for _ in range(200):  # freeze it while a file is half written, then kill it there
            await eventually(lambda: len(_complete(root)) >= 2 and bool(_partial(root)), 30,
                             "two complete files and one being written")
            child.send_signal(signal.SIGSTOP)
            if _partial(root):
                break
            child.send_signal(signal.SIGCONT)
        child.send_signal(signal.SIGKILL)
        child.wait(scaled(10))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    partial = _partial(root)
    assert partial, "the recorder was killed with a file half written"
    with pytest.raises(Exception):  # noqa: B017  (pyarrow's error type varies): the half file has no footer
        pq.read_table(partial[0])
    complete = _complete(root)
    rows = sum(pq.read_metadata(p).num_rows for p in complete)
    ids = rb.dataset(root).trades("BTCUSDT")["trade_id"].tolist()
    assert len(ids) == rows > 0
    assert ids == [f"{i}-{k}" for i in range(rows // 2) for k in range(2)]  # a clean prefix, nothing torn
    table = pds.dataset(root, format="parquet", partitioning=pds.partitioning(PARTITION_SCHEMA, flavor="hive")
                        ).to_table()
    assert table.num_rows == rows
    # a new recorder on the same directory carries on beside the leftovers
    with DatasetWriter(root) as w:
        w.write(LINEAR, trade_frame(10**6), T0 / 1000)
    assert len(rb.dataset(root).trades("BTCUSDT")) == rows + 2


async def test_a_dataset_replays_into_the_same_observables_books_exact_to_u(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    async with Simulator(host="127.0.0.1", port=0, seed=11, symbols=("BTCUSDT",), speed=5.0) as sim:
        writer = DatasetWriter(root)
        async with rb.Bybit(sim.url) as bybit:
            tap = writer.attach(bybit, "linear")
            live = await bybit.orderbook("BTCUSDT", depth=50).pipe(ops.take(60), ops.to_list())
            trades = await bybit.trades("BTCUSDT").pipe(ops.take(3), ops.to_list())
            tap.dispose()
        writer.close()
    ds = rb.dataset(root)
    recorded_u = ds.book_updates("BTCUSDT")["u"].tolist()
    assert recorded_u[: len(live)] == [v.u for v in live]
    assert len(ds.trades("BTCUSDT")) >= len(trades)

    async with ReplayServer(ds.records(topic="orderbook.50"), speed=0) as server, rb.Bybit(server.url) as replay:
        views = await replay.orderbook("BTCUSDT", depth=50).pipe(ops.take(len(live)), ops.to_list())
    assert [v.u for v in views] == [v.u for v in live]
    assert [(v.bids(), v.asks()) for v in views] == [(v.bids(), v.asks()) for v in live]


async def test_records_can_start_late_and_pick_topics(tmp_path: Path) -> None:
    with DatasetWriter(tmp_path) as w:
        for i in range(10):
            w.write(LINEAR, trade_frame(i), (T0 + i * 1000) / 1000)
    recs = rb.dataset(tmp_path).records(start=T0 + 5000)
    assert [r.t for r in recs] == [(T0 + i * 1000) / 1000 for i in range(5, 10)]
    assert {(r.path, r.topic) for r in recs} == {(LINEAR, "publicTrade.BTCUSDT")}
    assert rb.dataset(tmp_path).records(topic="orderbook.50") == []


def test_cli_records_a_parquet_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rec"
    assert main(["record", "orderbook.50.BTCUSDT", "publicTrade.BTCUSDT", "--format", "parquet", "-o", str(out),
                 "--count", "40", "--duration", "30"]) == 0
    assert "wrote" in capsys.readouterr().err
    ds = rb.dataset(out)
    book = ds.book_updates("BTCUSDT")
    assert book["type"].iloc[0] == "snapshot" and book["u"].diff().iloc[1:].eq(1).all()
    assert len(book) + len(ds.frames(topic="publicTrade")) >= 40
    assert not list(out.rglob(".*.tmp"))


def test_interrupt_gives_a_complete_dataset_too(tmp_path: Path) -> None:
    """A recorder stopped by Ctrl-C (not killed) closes its files on the way out."""
    out = tmp_path / "rec"
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from rxbybit.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", code, "record", "publicTrade.BTCUSDT", "orderbook.1.BTCUSDT",
                              "--format", "parquet", "-o", str(out), "--duration", "60"], env=env,
                             stderr=subprocess.PIPE)
    try:
        asyncio.run(_wait_for_data(out))
        child.send_signal(signal.SIGINT)
        child.wait(scaled(30))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert list(out.rglob("*.parquet")) and not list(out.rglob(".*.tmp"))
    assert len(rb.dataset(out).book_updates("BTCUSDT")) > 0


async def _wait_for_data(out: Path) -> None:
    # a partition's directory appears with its first frame
    await eventually(lambda: any(out.rglob("date=*")) if out.exists() else False, 60, "the recorder to start")
