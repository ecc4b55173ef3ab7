"""rxbybit's client survives Bybit's odd wire details (issue 12), against the simulator and frames.

The trade client's side of the reqId-less rejection and of 10019 belongs to rxbybit/client/trade.py
and is tested with it; the simulator side of both is in tests/sim/test_sim_quirks.py.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from helpers import eventually

import rxbybit as rb
from rxbybit.protocol import OrderBook, decode
from rxbybit.protocol.book import Applied
from rxbybit.protocol.events import BookUpdate, Candle, Klines, ServerError, SubscribeAck
from rxbybit.protocol.ticker import Ticker
from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET, Simulator
from rxbybit.transport import exponential_backoff


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def client(sim: Simulator, **kwargs: Any) -> rb.Bybit:
    return rb.Bybit(sim.url, ping_interval=0.5, pong_timeout=2.0, health_interval=0.1,  # type: ignore[arg-type]
                    backoff=exponential_backoff(initial=0.02, maximum=0.2), **kwargs)


@pytest.fixture
async def early() -> AsyncIterator[Simulator]:
    """Every public subscribe gets its data before its ack."""
    async with Simulator(seed=4, symbols=("BTCUSDT",), data_before_ack=1.0, speed=2.0) as sim:
        yield sim


# 1 ------------------------------------------------------------------------------------------


def test_1_an_ack_with_a_stringified_numeric_req_id_is_matched() -> None:
    ack = decode('{"success":true,"ret_msg":"","conn_id":"c","req_id":"3","op":"subscribe"}')
    assert isinstance(ack, SubscribeAck) and ack.req_id == "3"
    as_number = decode('{"success":true,"ret_msg":"","conn_id":"c","req_id":3,"op":"subscribe"}')
    assert isinstance(as_number, SubscribeAck) and as_number.req_id == "3"


# 3 ------------------------------------------------------------------------------------------


async def test_3_option_topics_are_confirmed_by_acks_without_any_id() -> None:
    async with Simulator(seed=4, symbols=("BTCUSDT",), data_before_ack=0.0) as sim:
        option = sim.option_symbols("BTC")[0]
        async with client(sim) as bybit:
            books: list[Any] = []
            sub = bybit.orderbook(option, depth=25, category="option").subscribe(books.append)
            try:
                await bybit.wait_subscribed(10)  # settled by a COMMAND_RESP with no req_id, ret_msg or op
                await eventually(lambda: bool(books), 10, "an option book")
                assert bybit.health_now().topics[("option", f"orderbook.25.{option}")].subscribed
            finally:
                sub.dispose()


# 4 ------------------------------------------------------------------------------------------


async def test_4_data_before_its_ack_is_kept(early: Simulator) -> None:
    async with client(early) as bybit:
        frames: list[Any] = []
        books: list[Any] = []
        trades: list[Any] = []
        taps = [bybit.frames("linear").subscribe(lambda f: frames.append(orjson.loads(f))),
                bybit.orderbook("BTCUSDT", depth=50).subscribe(books.append),
                bybit.trades("BTCUSDT").subscribe(trades.append)]
        try:
            await bybit.wait_subscribed(10)
            await eventually(lambda: len(books) >= 5 and bool(trades), 20, "books and a trade")
            kinds = ["ack" if f.get("op") == "subscribe" else f.get("topic") for f in frames]
            assert kinds.index("orderbook.50.BTCUSDT") < kinds.index("ack")  # the snapshot came first...
            snapshot = next(f for f in frames if f.get("topic") == "orderbook.50.BTCUSDT")
            assert books[0].u == snapshot["data"]["u"]  # ...and it is the first book observers got
            assert bybit.health_now().resyncs == 0  # no delta was applied to a missing snapshot
        finally:
            for t in taps:
                t.dispose()


# 5 ------------------------------------------------------------------------------------------


def test_5_both_candles_of_a_rollover_frame_are_decoded() -> None:
    frame = {"topic": "kline.1.BTCUSDT", "type": "snapshot", "ts": 1_700_000_060_010, "data": [
        {"start": 1_700_000_000_000, "end": 1_700_000_059_999, "interval": "1", "open": "1", "close": "2",
         "high": "2", "low": "1", "volume": "3", "turnover": "4", "confirm": True, "timestamp": 1_700_000_059_000},
        {"start": 1_700_000_060_000, "end": 1_700_000_119_999, "interval": "1", "open": "2", "close": "2",
         "high": "2", "low": "2", "volume": "0", "turnover": "0", "confirm": False, "timestamp": 1_700_000_060_010}]}
    event = decode(orjson.dumps(frame))
    assert isinstance(event, Klines)
    assert [(c.start, c.confirm) for c in event.candles] == [(1_700_000_000_000, True), (1_700_000_060_000, False)]


@pytest.mark.parametrize("category", ["linear", "spot"])
async def test_5_every_closed_candle_reaches_klines_observers(category: str) -> None:
    boundary = (now_ms() // 60_000 + 2) * 60_000
    async with Simulator(seed=4, symbols=("BTCUSDT",), start_ms=boundary - 8_000, speed=10.0) as sim, \
            client(sim) as bybit:
        candles: list[Candle] = []
        sub = bybit.klines("BTCUSDT", "1", category=category).subscribe(candles.append)  # type: ignore[arg-type]
        try:
            await eventually(lambda: any(c.start == boundary for c in candles), 20, "the new candle")
            closed = [c for c in candles if c.confirm]
            assert [c.start for c in closed] == [boundary - 60_000]
            assert candles.index(closed[0]) < next(i for i, c in enumerate(candles) if c.start == boundary)
        finally:
            sub.dispose()


# 6 ------------------------------------------------------------------------------------------


def test_6_a_zero_size_deletes_a_level_whatever_its_spelling() -> None:
    def book(kind: str, u: int, bids: list[list[str]]) -> BookUpdate:
        event = decode(orjson.dumps({"topic": "orderbook.50.BTCUSDT", "type": kind, "ts": 1, "data": {
            "s": "BTCUSDT", "b": bids, "a": [["67300.00", "1.000"]], "u": u, "seq": u}, "cts": 1}))
        assert isinstance(event, BookUpdate)
        return event

    ob = OrderBook("BTCUSDT", 50)
    ob.apply(book("snapshot", 10, [["67249.80", "0.500"], ["67249.70", "0.200"]]))
    ob.apply(book("delta", 11, [["67249.80", "0"]]))
    ob.apply(book("delta", 12, [["67249.70", "0.000"]]))
    assert ob.view().bids() == []


# 7 ------------------------------------------------------------------------------------------


async def test_7_spot_order_rows_without_tpsl_mode_reach_the_spot_view() -> None:
    async with Simulator(seed=4, symbols=("BTCUSDT",)) as sim, \
            client(sim, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET) as bybit:
        spot: list[Any] = []
        linear: list[Any] = []
        subs = [bybit.orders("spot").subscribe(spot.append), bybit.orders("linear").subscribe(linear.append)]
        try:
            await bybit.wait_subscribed(10)
            before = now_ms()
            await bybit.trade.create_order(category="spot", symbol="BTCUSDT", side="Buy", order_type="Market",
                                           qty="0.001", market_unit="baseCoin")
            await eventually(lambda: bool(spot), 10, "the spot order row")
            assert spot[0]["category"] == "spot" and "tpslMode" not in spot[0] and not linear
            # 8: the exchange's clock is the wall clock, so an order is never older than its request
            assert int(spot[0]["createdTime"]) >= before
        finally:
            for s in subs:
                s.dispose()


# 10 -----------------------------------------------------------------------------------------


def test_10_a_repeated_level1_snapshot_with_the_same_u_is_no_gap() -> None:
    def l1(seq: int, cts: int) -> BookUpdate:
        event = decode(orjson.dumps({"topic": "orderbook.1.BTCUSDT", "ts": cts, "type": "snapshot", "data": {
            "s": "BTCUSDT", "b": [["67249.80", "1.000"]], "a": [["67249.90", "2.000"]], "u": 500, "seq": seq},
            "cts": cts}))
        assert isinstance(event, BookUpdate)
        return event

    ob = OrderBook("BTCUSDT", 1)
    ob.apply(l1(7_000, 1_000))
    again = ob.apply(l1(7_004, 4_000))
    assert again not in (Applied.GAP, Applied.CROSSED) and ob.view().u == 500


# 11 -----------------------------------------------------------------------------------------


def test_11_the_spot_v3_signature_error_decodes_with_its_code() -> None:
    event = decode('{"ret_code":"10003","type":"error","ret_msg":"the signature of this request is invalid"}')
    assert isinstance(event, ServerError) and event.code == 10003 and "signature" in event.message


# 12 -----------------------------------------------------------------------------------------


async def test_12_linear_tickers_keep_single_open_interest_through_deltas() -> None:
    async with Simulator(seed=4, symbols=("BTCUSDT",), speed=4.0) as sim, client(sim) as bybit:
        tickers: list[Ticker] = []
        sub = bybit.ticker("BTCUSDT").subscribe(tickers.append)
        try:
            await eventually(lambda: len(tickers) >= 3, 20, "a snapshot and deltas")
            assert all("singleOpenInterest" in t and "singleOpenInterestValue" in t for t in tickers)
            assert tickers[-1].complete
        finally:
            sub.dispose()
