"""History and live as one stream: the seam rules on their own (pure data and a scripted live
source), then ``klines(history=...)`` and ``trades(history=...)`` against the simulator."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from helpers import eventually
from reactivex.subject import Subject

import rxbybit as rb
from rxbybit.client.history import CandleSeam, TradeSeam, with_history
from rxbybit.client.stream import Provenance, Stream
from rxbybit.protocol.events import Candle, Trade
from rxbybit.sim import Simulator

M = 60_000


async def held(timeout: float) -> bool:
    """The exchange holds the subscription at once."""
    return True


def candle(start: int, close: float = 1.0, confirm: bool = True) -> Candle:
    return Candle(start, start + M - 1, "1", 1.0, 1.0, 1.0, close, 1.0, 1.0, confirm, start)


def trade(n: int, ts: int) -> Trade:
    return Trade(ts, "BTCUSDT", "Buy", 1.0, 1.0, f"id{n}")


def test_candle_seam_prefers_live_from_the_first_buffered_candle_on() -> None:
    history = [candle(0), candle(M), candle(2 * M, close=5.0, confirm=False)]
    buffered = [candle(2 * M, close=6.0, confirm=False), candle(2 * M, close=7.0, confirm=True), candle(3 * M)]
    out = CandleSeam().merge(history, buffered)
    assert [(c.start, c.close) for c in out] == [(0, 1.0), (M, 1.0), (2 * M, 6.0), (2 * M, 7.0), (3 * M, 1.0)]


def test_candle_seam_without_live_yet_emits_the_open_candle_once_then_updates_it() -> None:
    seam = CandleSeam()
    out = seam.merge([candle(0), candle(M, confirm=False)], [])
    for c in out:
        seam.emitted(c)
    assert [c.confirm for c in out] == [True, False]
    assert seam.admit(candle(M, close=2.0)), "the open candle is updated"
    assert not seam.admit(candle(0)), "never a step back"
    assert seam.admit(candle(2 * M))


def test_trade_seam_prints_each_trade_once() -> None:
    seam = TradeSeam()
    out = seam.merge([trade(1, 10), trade(2, 20)], [trade(2, 20), trade(3, 30)])
    assert [t.trade_id for t in out] == ["id1", "id2", "id3"]
    seam2 = TradeSeam()
    seam2.merge([trade(1, 10), trade(2, 20)], [])
    assert not seam2.admit(trade(2, 20)), "a late live copy of a stored trade is dropped"
    assert seam2.admit(trade(3, 30))
    assert seam2.admit(trade(4, 20)) and not seam2.ids, "past the newest stored trade nothing is filtered"


async def test_live_items_during_the_read_are_buffered_and_merged_in_order() -> None:
    subject: Subject[Candle] = Subject()
    live: Stream[Candle] = Stream.wrap(subject, Provenance.SIMULATED)
    stored: asyncio.Future[list[Candle]] = asyncio.get_running_loop().create_future()
    errors: list[str] = []
    seen: list[Candle] = []
    stream = with_history(live, lambda: stored, CandleSeam, ready=held, name="kline.1.X",
                          on_error=lambda n, e: errors.append(n))
    assert stream.provenance is Provenance.SIMULATED
    sub = stream.subscribe(seen.append)
    subject.on_next(candle(2 * M, close=6.0, confirm=False))
    await asyncio.sleep(0)
    assert seen == [], "nothing before the history"
    stored.set_result([candle(0), candle(M), candle(2 * M, close=5.0, confirm=False)])
    await eventually(lambda: len(seen) == 3, what="history then the buffered candle")
    subject.on_next(candle(2 * M, close=7.0))
    subject.on_next(candle(M, close=9.0))  # a step back: dropped
    subject.on_next(candle(3 * M, confirm=False))
    assert [(c.start, c.close) for c in seen] == [(0, 1.0), (M, 1.0), (2 * M, 6.0), (2 * M, 7.0), (3 * M, 1.0)]
    assert errors == []
    sub.dispose()


async def test_a_failed_read_leaves_the_stream_live_and_says_so() -> None:
    subject: Subject[Trade] = Subject()

    async def fail() -> list[Trade]:
        raise RuntimeError("REST is down")

    errors: list[tuple[str, str]] = []
    seen: list[Trade] = []
    stream = with_history(Stream.wrap(subject, Provenance.LIVE), fail, TradeSeam, ready=held,
                          name="publicTrade.X", on_error=lambda n, e: errors.append((n, str(e))))
    sub = stream.subscribe(seen.append)
    subject.on_next(trade(1, 10))
    await eventually(lambda: len(seen) == 1, what="the buffered live trade")
    subject.on_next(trade(2, 20))
    assert [t.trade_id for t in seen] == ["id1", "id2"] and errors == [("publicTrade.X", "REST is down")]
    sub.dispose()


# ---------------------------------------------------------------------------------- against the simulator


@pytest.fixture
async def fast_sim() -> AsyncIterator[Simulator]:
    """A simulator whose minute lasts a second, so a test sees candles close across the seam."""
    async with Simulator(host="127.0.0.1", port=0, seed=5, symbols=("BTCUSDT", "ETHUSDT"), speed=60.0) as s:
        yield s


async def test_klines_history_then_live_has_no_gap_and_no_duplicate(fast_sim: Simulator) -> None:
    async with rb.Bybit(fast_sim.url, simulated=True) as bybit:
        seen: list[Candle] = []
        sub = bybit.klines("BTCUSDT", "1", history=300).subscribe(seen.append)
        try:
            await eventually(lambda: len({c.start for c in seen}) >= 303, timeout=20,
                             what="300 stored candles and three live minutes")
        finally:
            sub.dispose()
    starts = [c.start for c in seen]
    assert starts == sorted(starts), "never a step back"
    distinct = sorted(set(starts))
    assert all(b - a == M for a, b in itertools.pairwise(distinct)), "no gap"
    # the seam sits where the first live candle was buffered: one or two minutes before the end of
    # the stored 300 (a minute lasts a second here), so the first 290 items are stored, closed candles
    assert all(c.confirm for c in seen[:290]), "the stored candles are closed"
    for start in distinct[:-1]:
        last = [c for c in seen if c.start == start][-1]
        assert last.confirm, f"candle {start} ended without its closed version"
    assert len(set(starts[:290])) == 290, "one stored candle per start before the seam"


async def test_trades_history_then_live_prints_each_trade_once(sim: Simulator) -> None:
    async with rb.Bybit(sim.url, simulated=True) as warm:  # let the market print trades first
        await eventually(lambda: sim.markets["linear"]["ETHUSDT"].trade_count >= 60, timeout=20,
                         what="60 trades in the market")
        seen: list[Trade] = []
        sub = warm.trades("ETHUSDT", history=50).subscribe(seen.append)
        try:
            await eventually(lambda: len(seen) >= 60, timeout=20, what="50 stored trades then live ones")
        finally:
            sub.dispose()
        rest = warm.rest
    ids = [t.trade_id for t in seen]
    assert len(ids) == len(set(ids)), "no trade twice"
    ts = [t.ts for t in seen]
    assert ts == sorted(ts)
    market = sim.markets["linear"]["ETHUSDT"]
    printed = [t.trade_id for t in market.trades]
    positions = [printed.index(i) for i in ids]
    assert positions == list(range(positions[0], positions[0] + len(ids))), "exactly the market's tape, no gap"
    assert rest.requests == 1


async def test_history_read_failing_keeps_the_live_candles(sim: Simulator) -> None:
    sim.rest.faults.down = True
    async with rb.Bybit(sim.url, simulated=True) as bybit:
        bybit.rest.retry = type(bybit.rest.retry)(attempts=1)
        seen: list[Any] = []
        sub = bybit.klines("ETHUSDT", "1", history=100).subscribe(seen.append)
        try:
            await eventually(lambda: len(seen) >= 2, timeout=10, what="live candles without history")
        finally:
            sub.dispose()
        assert "503" in (bybit.health_now().last_error or "")
    assert not any(c.start < seen[0].start for c in seen)


async def test_a_frame_of_klines_with_history_opens_full(sim: Simulator) -> None:
    from rxbybit import ops

    async with rb.Bybit(sim.url, simulated=True) as bybit:
        frame = bybit.klines("BTCUSDT", "1", history=120).pipe(ops.to_frame())
        await eventually(lambda: len(frame.df) >= 120, what="120 candles in the frame")
        df = frame.df
        assert df.index.is_monotonic_increasing and not df.index.has_duplicates
        assert len(df) <= 121, "the open candle is updated in place, not added again"
        frame.close()


async def test_disposing_as_the_ack_arrives_stops_the_history_read(sim: Simulator) -> None:
    """The observer leaves in the very iteration the ack wakes the read (Python 3.11's ``wait_for``
    can swallow that cancel): nothing reaches it afterwards, and the read does not fail."""
    bybit = rb.Bybit(sim.url, simulated=True)
    seen: list[Candle] = []
    sub = bybit.klines("BTCUSDT", "1", history=5).subscribe(seen.append)
    (task,) = [t for t in asyncio.all_tasks() if t.get_name() == "rxbybit-history-kline.1.BTCUSDT"]
    await bybit.wait_subscribed()  # wakes before the read does: the read is woken, not yet resumed
    sub.dispose()
    count = len(seen)
    await bybit.close()
    (outcome,) = await asyncio.gather(task, return_exceptions=True)
    assert outcome is None or isinstance(outcome, asyncio.CancelledError), repr(outcome)
    assert len(seen) == count, "nothing after dispose"
    assert bybit.health_now().last_error is None
