"""``rb.replay(source, start=, end=)``: one time window for JSONL recordings and datasets alike, by
receive time, with books exact from the window's start (a lead-in from the last snapshot)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from helpers import scaled
from reactivex import operators as ops
from recording_frames import LINEAR, T0, book_frame, trade_frame

import rxbybit as rb
from rxbybit.protocol.book import OrderBook
from rxbybit.protocol.decode import decode
from rxbybit.protocol.events import BookUpdate
from rxbybit.protocol.json_codec import dumps
from rxbybit.recordings import DatasetWriter
from rxbybit.sim import Simulator
from rxbybit.sim.replay import load_recording

ROOT = Path(__file__).resolve().parents[2]
Frames = list[tuple[float, str]]
"""``(receive time in epoch s, frame)`` in receive order."""


def _jsonl(tmp: Path, frames: Frames) -> Path:
    path = tmp / "rec.jsonl"
    path.write_text("".join(dumps({"t": t, "path": LINEAR, "frame": f}) + "\n" for t, f in frames))
    return path


def _dataset(tmp: Path, frames: Frames) -> Path:
    with DatasetWriter(tmp / "ds") as w:
        for t, f in frames:
            w.write(LINEAR, f, t)
    return tmp / "ds"


SOURCES: dict[str, Callable[[Path, Frames], Path]] = {"jsonl": _jsonl, "dataset": _dataset}


def _at(i: int) -> float:
    """Receive time of frame ``i`` (whole milliseconds, so both formats hold it exactly)."""
    return (T0 + i * 1000) / 1000


def _trades(n: int) -> Frames:
    return [(_at(i), trade_frame(i)) for i in range(n)]


def _ms(i: int) -> int:
    return T0 + i * 1000


BOUNDS: dict[str, Callable[[int], object]] = {
    "epoch ms": _ms,
    "pandas Timestamp": lambda i: pd.Timestamp(_ms(i), unit="ms", tz="UTC"),
    "aware datetime": lambda i: pd.Timestamp(_ms(i), unit="ms", tz="UTC").to_pydatetime(),
    "naive datetime (UTC)": lambda i: pd.Timestamp(_ms(i), unit="ms").to_pydatetime(),
    "ISO text": lambda i: pd.Timestamp(_ms(i), unit="ms", tz="UTC").isoformat(),
    "ISO text, other zone": lambda i: pd.Timestamp(_ms(i), unit="ms", tz="UTC").tz_convert("Asia/Tokyo").isoformat(),
}


@pytest.mark.parametrize("kind", SOURCES)
@pytest.mark.parametrize("bound", BOUNDS)
def test_a_window_keeps_frames_received_from_start_to_before_end(tmp_path: Path, kind: str, bound: str) -> None:
    frames = _trades(10)
    source = SOURCES[kind](tmp_path, frames)
    make = BOUNDS[bound]
    replay = rb.replay(source, start=make(3), end=make(7), speed=0)
    assert [r.frame for r in replay.records] == [f for _, f in frames[3:7]]
    assert replay.window == (pd.Timestamp(_ms(3), unit="ms", tz="UTC"), pd.Timestamp(_ms(7), unit="ms", tz="UTC"))
    only_start = rb.replay(source, start=make(8))
    assert [r.frame for r in only_start.records] == [f for _, f in frames[8:]]
    only_end = rb.replay(source, end=make(2))
    assert [r.frame for r in only_end.records] == [f for _, f in frames[:2]]


@pytest.mark.parametrize("kind", SOURCES)
async def test_a_windowed_replay_plays_the_window_and_completes(tmp_path: Path, kind: str) -> None:
    source = SOURCES[kind](tmp_path, _trades(10))
    replay = rb.replay(source, start="2026-11-22T01:48:07Z", end=_ms(6), speed=0, paused=True)
    async with rb.Bybit(network=replay) as bybit:
        seen = bybit.trades("BTCUSDT").pipe(ops.to_list())
        task = asyncio.ensure_future(asyncio.wait_for(seen, scaled(20)))
        await bybit.wait_subscribed(scaled(10))
        assert not task.done() and not replay.ended
        await replay.start()
        got = await task
    assert [t.trade_id for t in got] == [f"{i}-{k}" for i in range(2, 6) for k in range(2)]
    assert "from 2026-11-22T01:48:07+00:00 to 2026-11-22T01:48:11+00:00" in repr(replay)


@pytest.mark.parametrize("kind", SOURCES)
def test_a_window_without_frames_names_itself_and_the_recordings_span(tmp_path: Path, kind: str) -> None:
    source = SOURCES[kind](tmp_path, _trades(10))
    with pytest.raises(ValueError, match=r"no recorded frames from start=2026-11-22T01:50:05\+00:00 to end=its end"
                       r".* spans 2026-11-22T01:48:05\+00:00 to 2026-11-22T01:48:14\+00:00 \(10 frames\)"):
        rb.replay(source, start=_ms(120))
    with pytest.raises(ValueError, match=r"from start=its beginning to end=2026-11-22T01:48:04\+00:00"):
        rb.replay(source, end=_ms(-1))
    with pytest.raises(ValueError, match=r"end .* must be after start"):
        rb.replay(source, start=_ms(5), end=_ms(5))
    with pytest.raises(ValueError, match="start 'soonish' is not a time"):
        rb.replay(source, start="soonish")
    with pytest.raises(TypeError, match="paused=True"):
        rb.replay(source, start=False)


def _fold(frames: list[str]) -> OrderBook:
    book = OrderBook("BTCUSDT", 50)
    for f in frames:
        update = decode(f)
        assert isinstance(update, BookUpdate)
        book.apply(update)
    return book


@pytest.mark.parametrize("kind", SOURCES)
def test_a_book_window_starts_from_the_last_snapshot_before_start(tmp_path: Path, kind: str) -> None:
    """Lead-in: the last snapshot before ``start`` (not an earlier one) with its deltas up to ``start``
    folded into one snapshot, timed at the window's first frame; trades before ``start`` stay out."""
    frames = [book_frame(1, snapshot=True), book_frame(2), trade_frame(2), book_frame(3),
              book_frame(10, snapshot=True), book_frame(11), trade_frame(6), book_frame(12),
              book_frame(13), trade_frame(9), book_frame(14)]
    source = SOURCES[kind](tmp_path, [(_at(i), f) for i, f in enumerate(frames)])
    replay = rb.replay(source, start=_ms(8), end=_ms(11))
    assert [r.frame for r in replay.records[1:]] == [frames[i] for i in (8, 9, 10)]
    assert [r.t for r in replay.records] == [_at(8), _at(8), _at(9), _at(10)]
    lead = decode(replay.records[0].frame)
    want = _fold([frames[4], frames[5], frames[7]])
    assert isinstance(lead, BookUpdate) and lead.snapshot and (lead.u, lead.seq, lead.ts) == (12, 512, want.ts)
    got = _fold([replay.records[0].frame])
    assert (got.bids(), got.asks()) == (want.bids(), want.asks()) and len(want.bids()) == 3
    # a window starting at a snapshot needs no lead-in
    assert [r.frame for r in rb.replay(source, start=_ms(4)).records] == frames[4:]


@pytest.mark.parametrize("kind", SOURCES)
def test_a_ticker_lead_in_merges_the_recorded_fields(tmp_path: Path, kind: str) -> None:
    def ticker(n: int, snapshot: bool, **fields: str) -> str:
        return dumps({"topic": "tickers.BTCUSDT", "type": "snapshot" if snapshot else "delta", "ts": _ms(n), "cs": n,
                      "data": {"symbol": "BTCUSDT", **fields}})

    frames = [ticker(0, True, lastPrice="100.10", markPrice="100.00", volume24h="5"),
              ticker(1, False, lastPrice="100.20"), ticker(2, False, markPrice="100.30"),
              ticker(3, False, volume24h="6")]
    source = SOURCES[kind](tmp_path, [(_at(i), f) for i, f in enumerate(frames)])
    first = rb.replay(source, start=_ms(3)).records[0]
    assert json.loads(first.frame) == {"topic": "tickers.BTCUSDT", "type": "snapshot", "ts": _ms(2), "cs": 2,
                                       "data": {"symbol": "BTCUSDT", "lastPrice": "100.20", "markPrice": "100.30",
                                                "volume24h": "5"}}


@pytest.mark.parametrize("kind", SOURCES)
def test_a_book_without_a_snapshot_before_start_begins_at_its_first_snapshot_after_it(tmp_path: Path,
                                                                                       kind: str) -> None:
    frames = [book_frame(1), book_frame(2), trade_frame(2), book_frame(3, snapshot=True), book_frame(4)]
    source = SOURCES[kind](tmp_path, [(_at(i), f) for i, f in enumerate(frames)])
    assert [r.frame for r in rb.replay(source, start=_ms(1)).records] == frames[2:]


async def test_every_book_of_a_windowed_replay_equals_the_recorded_book_at_its_u(tmp_path: Path) -> None:
    """The simulator recorded as JSONL and as a dataset by one client; a window from the middle of
    the book stream replays, from either, books equal to the live ones at the same ``u``."""
    topic = "orderbook.50.BTCUSDT"
    writer = DatasetWriter(tmp_path / "ds")
    async with Simulator(host="127.0.0.1", port=0, seed=5, symbols=("BTCUSDT",), speed=5.0) as sim, \
            rb.Bybit(sim.url) as live_client:
        tap = writer.attach(live_client, "linear")
        async with rb.Recorder(live_client, tmp_path / "rec.jsonl", topics=[topic]):
            live = await asyncio.wait_for(live_client.orderbook("BTCUSDT", depth=50).pipe(
                ops.take(80), ops.to_list()), scaled(60))
        tap.dispose()
    writer.close()
    recorded = {v.u: (v.bids(), v.asks()) for v in live}
    assert len(recorded) == len(live)

    recordings = {"jsonl": [r for r in load_recording(tmp_path / "rec.jsonl") if r.topic == topic],
                  "dataset": rb.dataset(tmp_path / "ds").records(topic="orderbook.50")}
    for kind, source in (("jsonl", tmp_path / "rec.jsonl"), ("dataset", tmp_path / "ds")):
        book = recordings[kind]
        assert '"snapshot"' in book[0].frame and all('"delta"' in r.frame for r in book[1:80])
        start, end = book[30].t, book[60].t
        # bounds made from the frames' own float times, as datetime (exact to the microsecond) and as a
        # pandas Timestamp of that datetime (pd.Timestamp(float, unit="s") itself is off by 1 us one time in 8)
        replay = rb.replay(source, start=pd.Timestamp(dt.datetime.fromtimestamp(start, dt.UTC)),
                           end=dt.datetime.fromtimestamp(end, dt.UTC), speed=0)
        async with rb.Bybit(network=replay) as bybit:
            views = await asyncio.wait_for(bybit.orderbook("BTCUSDT", depth=50).pipe(ops.to_list()), scaled(30))
        # one folded snapshot at the last u before start, then the window: no book from before start
        assert [v.u for v in views] == [v.u for v in live[29:60]], kind
        for v in views:
            assert (v.bids(), v.asks()) == recorded[v.u], (kind, v.u)
        assert [r.frame for r in replay.records[1:31]] == [r.frame for r in book[30:60]]
        assert replay.records[0].t == start and '"snapshot"' in replay.records[0].frame


def test_a_jsonl_window_needs_neither_duckdb_nor_the_dataset_reader(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, _trades(5))
    code = ("import sys, rxbybit as rb\n"
            f"r = rb.replay({str(path)!r}, start={_ms(2)}, end='2026-11-22T01:48:09Z')\n"
            "assert len(r.records) == 2, r.records\n"
            "loaded = [m for m in ('duckdb', 'rxbybit.recordings.reader', 'rxbybit.recordings.writer') "
            "if m in sys.modules]\n"
            "assert not loaded, loaded\n")
    done = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=scaled(60))
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("kind", SOURCES)
def test_a_gap_in_u_before_start_starts_the_book_at_its_next_snapshot(tmp_path: Path, kind: str) -> None:
    """A lead-in with a missing ``u`` cannot be folded into a true book: the window waits for a snapshot."""
    frames = [book_frame(1, snapshot=True), book_frame(2), book_frame(4), book_frame(5),
              book_frame(6, snapshot=True), book_frame(7)]
    source = SOURCES[kind](tmp_path, [(_at(i), f) for i, f in enumerate(frames)])
    assert [r.frame for r in rb.replay(source, start=_ms(3)).records] == frames[4:]


def test_without_the_dataset_extra_a_dataset_says_what_to_install(tmp_path: Path) -> None:
    code = ("import sys\nsys.modules['duckdb'] = None\nimport rxbybit as rb\n"
            "r = rb.replay([], start=None)\n"  # JSONL-side replay still works
            "try:\n    rb.dataset('x')\nexcept ModuleNotFoundError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=scaled(60))
    assert done.returncode == 0, done.stderr
    assert "Parquet datasets need pyarrow and duckdb (duckdb is missing): pip install 'rxbybit[dataset]'" in done.stdout


def test_a_bound_made_from_a_frames_own_time_selects_exactly_that_frame() -> None:
    """Receive times are floats with sub-microsecond noise; a window bound built from one with
    ``datetime.fromtimestamp`` must fall on the same microsecond as the frame, for every such time."""
    import random

    from rxbybit.recordings.window import micros_of

    rng = random.Random(7)
    for _ in range(20_000):
        t = 1_764_518_400 + rng.random() * 86_400
        bound = pd.Timestamp(dt.datetime.fromtimestamp(t, dt.UTC))
        assert micros_of(t) == int(bound.value) // 1000, t
