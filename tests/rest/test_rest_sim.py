"""The REST client against the simulator's REST side, which shares the port of its sockets: the
reads agree with the streams and the books, paging, signatures, recv_window, rate limits and
REST outages that leave the streams running."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from helpers import eventually, scaled
from reactivex import operators as rx_ops

import rxbybit as rb
from rxbybit.errors import AuthenticationError, RateLimitError, RestError, RestUnavailableError
from rxbybit.protocol import rest as R
from rxbybit.protocol.instruments import parse_instrument
from rxbybit.protocol.signing import Credentials
from rxbybit.rest import RestClient, RetryPolicy
from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET, Simulator


async def test_instruments_page_through_every_symbol_with_the_books_tick_and_lot(sim: Simulator,
                                                                                 rest: RestClient) -> None:
    rows = await rest.get_paged(R.INSTRUMENTS, {"category": "linear", "limit": 2})
    assert rest.requests == 2 and [r["symbol"] for r in rows] == list(sim.universe["linear"])
    for cat in ("spot", "linear", "inverse", "option"):
        infos = [parse_instrument(cat, r) for r in await rest.instruments_info(cat)]
        assert {i.symbol for i in infos} == set(sim.universe[cat])
        for info in infos:
            inst = sim.universe[cat][info.symbol]
            assert str(info.tick_size) == inst.px(inst.tick) and str(info.qty_step) == inst.qty(inst.lot)
            assert info.trading
    doge = parse_instrument("linear", (await rest.instruments_info("linear", "DOGEUSDT"))[0])
    assert doge.price_decimals == 5 and doge.qty_decimals == 0


async def test_a_cursor_not_handed_out_is_a_params_error(rest: RestClient) -> None:
    with pytest.raises(RestError) as info:
        await rest.get(R.INSTRUMENTS, {"category": "linear", "cursor": "bogus"})
    assert info.value.code == 10001 and "cursor" in info.value.message


async def test_kline_history_ends_with_the_candle_the_stream_updates(sim: Simulator, rest: RestClient) -> None:
    async with rb.Bybit(sim.url, simulated=True) as bybit:
        live = await asyncio.wait_for(bybit.klines("BTCUSDT", "1").pipe(rx_ops.first()), scaled(10))
        rows = await rest.kline("linear", "BTCUSDT", "1", limit=1000)
    assert len(rows) == 1000
    starts = [int(r[0]) for r in rows]
    assert starts == sorted(starts, reverse=True) and len(set(starts)) == 1000, "newest first, no duplicate"
    assert all(a - b == 60_000 for a, b in itertools.pairwise(starts)), "no gap"
    assert int(rows[0][0]) >= live.start
    market = sim.markets["linear"]["BTCUSDT"]
    closes = {int(r[0]): r for r in rows}
    first_live = market.klines.series["1"].closed[0] if market.klines.series["1"].closed \
        else market.klines.series["1"].current
    before = closes[first_live.start - 60_000]
    assert abs(float(before[4]) / market.inst.pxf(first_live.open) - 1) < 0.01, "the seeded walk ends at the start"
    again = await rest.kline("linear", "BTCUSDT", "1", end=starts[500], limit=3)
    assert [int(r[0]) for r in again] == starts[500:503], "the seeded history is the same on every request"
    with pytest.raises(RestError, match="interval"):
        await rest.kline("linear", "BTCUSDT", "2")


async def test_recent_trades_are_the_trades_the_stream_printed(sim: Simulator, rest: RestClient) -> None:
    async with rb.Bybit(sim.url, simulated=True) as bybit:
        printed = await asyncio.wait_for(bybit.trades("ETHUSDT").pipe(rx_ops.take(5), rx_ops.to_list()), scaled(10))
        rows = await rest.recent_trades("linear", "ETHUSDT", limit=1000)
    ids = [r["execId"] for r in rows]
    assert {t.trade_id for t in printed} <= set(ids)
    times = [int(r["time"]) for r in rows]
    assert times == sorted(times, reverse=True)


async def test_orderbook_and_tickers_read_the_one_book(sim: Simulator, rest: RestClient) -> None:
    book = await rest.orderbook("linear", "BTCUSDT", limit=5)
    assert len(book["b"]) == 5 and len(book["a"]) == 5
    assert float(book["b"][0][0]) < float(book["a"][0][0])
    tick = (await rest.tickers("linear", "BTCUSDT"))[0]
    assert tick["symbol"] == "BTCUSDT" and float(tick["bid1Price"]) < float(tick["ask1Price"])
    assert {r["symbol"] for r in await rest.tickers("spot")} == set(sim.universe["spot"])


async def test_private_reads_show_an_order_placed_on_the_trade_socket(sim: Simulator, rest: RestClient) -> None:
    async with rb.Bybit(sim.url, simulated=True, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET) as bybit:
        book = await rest.orderbook("linear", "ETHUSDT", limit=1)
        low = f"{float(book['b'][0][0]) * 0.8:.2f}"
        ack = await bybit.trade.create_order(category="linear", symbol="ETHUSDT", side="Buy", order_type="Limit",
                                             qty="0.10", price=low)
        orders = await rest.open_orders("linear")
        assert [o["orderId"] for o in orders] == [ack.order_id] and orders[0]["orderStatus"] == "New"
        await bybit.trade.create_order(category="linear", symbol="ETHUSDT", side="Buy", order_type="Market",
                                       qty="0.10")
        positions = await rest.positions("linear", symbol="ETHUSDT")
        assert positions[0]["size"] == "0.10" and positions[0]["side"] == "Buy"
        execs = await rest.executions("linear", symbol="ETHUSDT")
        assert execs and all(e["side"] == "Buy" for e in execs)
        wallet = await rest.wallet_balance()
        assert {c["coin"] for c in wallet["coin"]} >= {"USDT"} and float(wallet["totalEquity"]) > 0
        await bybit.trade.cancel_order(category="linear", symbol="ETHUSDT", order_id=ack.order_id)
        assert await rest.open_orders("linear") == []
        closed = await rest.open_orders("linear", order_id=ack.order_id)
        assert closed[0]["orderStatus"] == "Cancelled"


async def test_bad_signature_unknown_key_and_stale_timestamp_are_refused(sim: Simulator) -> None:
    cases = [(Credentials(DEMO_API_KEY, "not-the-secret"), lambda: rb_now(), 10004),
             (Credentials("unknown-key", DEMO_API_SECRET), lambda: rb_now(), 10003),
             (Credentials(DEMO_API_KEY, DEMO_API_SECRET), lambda: rb_now() - 60_000, 10002)]
    for creds, clock, code in cases:
        async with RestClient(sim.url, credentials=creds, clock=clock) as c:
            with pytest.raises(AuthenticationError) as info:
                await c.wallet_balance()
        assert info.value.code == code and c.requests == 1
        assert creds.api_secret not in str(info.value)


def rb_now() -> int:
    from rxbybit.protocol.clock import now_ms

    return now_ms()


async def test_rate_limits_are_reported_retried_and_typed(sim: Simulator, rest: RestClient) -> None:
    await rest.wallet_balance()
    limit = rest.rate_limits[R.WALLET]
    assert limit.limit == 50 and 0 <= limit.remaining < 50
    sim.rest.faults.rate_limited = 1
    assert await rest.wallet_balance(), "one 10006 is retried after the reset"
    assert rest.retries == 1
    sim.rest.faults.rate_limited = 5
    with pytest.raises(RateLimitError) as info:
        await rest.tickers("linear")
    assert info.value.code == 10006 and info.value.reset_ms > 0
    sim.rest.faults.rate_limited = 0
    sim.rest.faults.ip_limited = 5
    with pytest.raises(RateLimitError) as info:
        await rest.tickers("linear")
    assert info.value.status == 403
    sim.rest.faults.ip_limited = 0
    sim.rest.ip_limit = 3
    async with RestClient(sim.url, retry=RetryPolicy(attempts=1)) as c:
        with pytest.raises(RateLimitError) as info:
            for _ in range(10):  # more than 3 in one 5 s window (or 3 + 3 in two)
                await c.tickers("linear")
    assert info.value.status == 403
    sim.rest.ip_limit = None
    sim.rest.limit_per_s = 2
    async with RestClient(sim.url, credentials=Credentials(DEMO_API_KEY, DEMO_API_SECRET),
                          retry=RetryPolicy(attempts=1)) as c:
        with pytest.raises(RateLimitError):
            for _ in range(10):  # ten in well under a second (or in two windows: 2 + 2 < 10)
                await c.positions("linear", symbol="BTCUSDT")


async def test_rest_down_fails_typed_while_the_streams_go_on(sim: Simulator, rest: RestClient) -> None:
    async with rb.Bybit(sim.url, simulated=True) as bybit:
        seen: list[object] = []
        sub = bybit.trades("BTCUSDT").subscribe(seen.append)
        try:
            await eventually(lambda: len(seen) > 0, what="first trade")
            sim.rest.faults.down = True
            with pytest.raises(RestError) as info:
                await rest.tickers("linear")
            assert info.value.status == 503 and rest.requests == 3, "retried, then typed"
            before = len(seen)
            await eventually(lambda: len(seen) > before, what="trades while REST is down")
            sim.rest.faults.down = False
            assert (await rest.tickers("linear", "BTCUSDT"))[0]["symbol"] == "BTCUSDT"
        finally:
            sub.dispose()


async def test_an_unreachable_rest_api_names_the_sim_way_out() -> None:
    async with RestClient("http://127.0.0.1:9", retry=RetryPolicy(attempts=2, base=0.001, cap=0.002)) as c:
        with pytest.raises(RestUnavailableError, match="network='sim'"):
            await c.tickers("linear")


async def test_websocket_paths_still_upgrade_and_unknown_paths_still_404(sim: Simulator) -> None:
    import httpx

    async with httpx.AsyncClient() as h:
        r = await h.get(f"http://127.0.0.1:{sim.port}/v5/nothing")
        assert r.status_code == 404
        r = await h.get(f"http://127.0.0.1:{sim.port}/v5/market/tickers?category=linear&symbol=BTCUSDT")
        assert r.status_code == 200 and r.headers["Connection"] == "close" and r.json()["retCode"] == 0
    async with rb.Bybit(sim.url, simulated=True) as bybit:
        t = await asyncio.wait_for(bybit.ticker("BTCUSDT").pipe(rx_ops.first()), scaled(10))
    assert t.symbol == "BTCUSDT"


async def test_history_longer_than_one_page_is_read_back_page_by_page(sim: Simulator, rest: RestClient) -> None:
    from rxbybit.client.history import fetch_candles

    candles = await fetch_candles(rest, "linear", "BTCUSDT", "5", 1001)
    assert rest.requests == 2 and len(candles) == 1001
    starts = [c.start for c in candles]
    assert all(b - a == 300_000 for a, b in itertools.pairwise(starts)), "ascending, no gap, no duplicate"
    assert [c.confirm for c in candles[-2:]] == [True, False], "only the newest is open"
    current = sim.markets["linear"]["BTCUSDT"].klines.series["5"].current.start
    assert current - 300_000 <= candles[-1].start <= current, "the newest is the forming candle (or one a rollover ago)"
