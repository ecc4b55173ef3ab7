"""The benchmark's generated stream is a valid Bybit book stream (so its numbers mean something)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import orjson

from rxbybit.protocol import (
    Applied,
    BookUpdate,
    OrderBook,
    PrivateUpdate,
    TickerState,
    TickerUpdate,
    Trades,
    decode,
)


def _bench() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "bench_protocol.py"
    spec = importlib.util.spec_from_file_location("bench_protocol", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_stream_is_contiguous_uncrossed_and_200_deep() -> None:
    frames = _bench().generate(3_000, seed=3)
    assert len(frames) == 3_001
    book = OrderBook()
    model: dict[str, dict[str, str]] = {}
    last_u = None
    for i, text in enumerate(frames):
        msg = orjson.loads(text)
        data = msg["data"]
        assert msg["type"] == ("snapshot" if i == 0 else "delta")
        if i == 0:
            model = {side: dict(data[side]) for side in ("b", "a")}
        else:
            assert data["u"] == last_u + 1
            touched = len(data["b"]) + len(data["a"])
            assert 1 <= touched <= 16
            for side in ("b", "a"):
                for p, s in data[side]:
                    if s == "0":
                        assert p in model[side], "a delete of a level the book does not hold"
                        del model[side][p]
                    else:
                        model[side][p] = s
        last_u = data["u"]
        assert len(model["b"]) == 200 and len(model["a"]) == 200
        ev = decode(text)
        assert isinstance(ev, BookUpdate)
        assert book.apply(ev) in (Applied.SNAPSHOT, Applied.DELTA)
    assert book.synced and not book.crossed
    assert book.bids() == sorted(((float(p), float(s)) for p, s in model["b"].items()), reverse=True)
    assert book.asks() == sorted((float(p), float(s)) for p, s in model["a"].items())
    best_bid, best_ask = book.best_bid, book.best_ask
    assert best_bid is not None and best_ask is not None and 60_000 < best_bid[0] < best_ask[0] < 70_000


def test_bench_runs_end_to_end_quickly(tmp_path: Path) -> None:
    bench = _bench()
    out = tmp_path / "results.jsonl"
    assert bench.main(["--deltas", "300", "--frames", "200", "--passes", "4", "--rounds", "1", "--budget", "0.05",
                       "--results", str(out)]) == 0
    rows = [orjson.loads(line) for line in out.read_text().splitlines()]
    names = {r["what"] for r in rows}
    assert "book: decode + apply / orjson parse-only" in names and all(r["value"] > 0 for r in rows)
    assert {n.split(":")[0] for n in names} == {"book", "recorded", "trades", "tickers", "private"}


def test_other_streams_decode_to_their_events() -> None:
    bench = _bench()
    kinds = {
        "trades": (bench.generate_trades(300), Trades),
        "tickers": (bench.generate_tickers(300), TickerUpdate),
        "private": (bench.generate_private(300), PrivateUpdate),
    }
    for name, (frames, kind) in kinds.items():
        events = [decode(f) for f in frames]
        assert all(type(e) is kind for e in events), name
    state = TickerState()
    for f in kinds["tickers"][0]:
        ticker = state.apply(decode(f))  # type: ignore[arg-type]
    assert ticker.complete and isinstance(ticker.last_price, float)
