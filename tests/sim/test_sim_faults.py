"""Fault injection: each fault is visible on the wire the way a client would meet it on Bybit."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from helpers import scaled
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rxbybit.protocol.rest import RECENT_TRADE_MAX_LIMIT
from rxbybit.sim import MALFORMED_FRAME, Simulator
from rxbybit.sim.feeds import LEVEL1_REPUSH_MS, BookFeed
from rxbybit.sim.instruments import build_universe
from rxbybit.sim.market import Market

LINEAR = "/v5/public/linear"
TOPIC = "orderbook.50.BTCUSDT"


async def test_skip_delta_makes_exactly_one_gap(sim: Simulator, client: Any) -> None:
    async with client(LINEAR) as c:
        await c.send({"op": "subscribe", "args": [TOPIC]})
        snap = await c.until(lambda m: m.get("topic") == TOPIC)
        first = await c.until(lambda m: m.get("topic") == TOPIC)
        assert first["data"]["u"] == snap["data"]["u"] + 1
        sim.faults.skip_delta("linear", TOPIC)
        gap = await c.until(lambda m: m.get("topic") == TOPIC)
        after = await c.until(lambda m: m.get("topic") == TOPIC)
    assert gap["type"] == "delta" and gap["data"]["u"] == first["data"]["u"] + 2
    assert after["data"]["u"] == gap["data"]["u"] + 1


async def test_restart_book_resends_every_depth_as_u1_snapshots(sim: Simulator, client: Any) -> None:
    topics = ["orderbook.1.BTCUSDT", TOPIC]
    async with client(LINEAR) as c:
        await c.send({"op": "subscribe", "args": topics})
        await c.until(lambda m: m.get("topic") == TOPIC and m["type"] == "delta")
        assert sim.faults.restart_book("linear", "BTCUSDT") >= 2
        got: dict[str, Any] = {}
        while len(got) < 2:
            m = await c.until(lambda m: m.get("topic") in topics and m["data"]["u"] == 1)
            got[m["topic"]] = m
        nxt = await c.until(lambda m: m.get("topic") == TOPIC)
    assert all(m["type"] == "snapshot" for m in got.values())
    assert nxt["data"]["u"] == 2 and nxt["type"] == "delta"
    assert sim.published_book("linear", TOPIC)[0] >= 2


async def test_drop_connections_aborts_without_a_close_frame(sim: Simulator, client: Any) -> None:
    async with client(LINEAR) as c, client("/v5/public/spot") as other:
        await c.send({"op": "ping"})
        await c.recv()
        assert await sim.faults.drop_connections(path=LINEAR) == 1
        with pytest.raises(ConnectionClosed) as info:
            await c.recv(timeout=2)
        assert info.value.rcvd is None  # no close frame: the client sees 1006
        await other.send({"op": "ping"})
        assert (await other.recv())["ret_msg"] == "pong"


async def test_silent_stops_json_and_protocol_pongs_then_resumes(sim: Simulator, client: Any) -> None:
    async with client(LINEAR) as c:
        sim.faults.silent(path=LINEAR, on=True)
        await c.send({"req_id": "unanswered", "op": "ping"})
        waiter = await c.ws.ping()
        # the barrier: the server answers in order, so its ack to a later request comes after any pong
        await c.send({"req_id": "after", "op": "subscribe", "args": ["tickers.BTCUSDT"]})
        first = await c.recv()
        assert first["op"] == "subscribe" and first["req_id"] == "after", first
        assert not waiter.done(), "a protocol pong was sent while silent"
        sim.faults.silent(path=LINEAR, on=False)
        await c.send({"req_id": "answered", "op": "ping"})
        pong = await c.until(lambda m: m.get("ret_msg") == "pong")
        assert pong["req_id"] == "answered"
        await asyncio.wait_for(await c.ws.ping(), scaled(2))
    assert [m for m in c.seen if m.get("req_id") == "unanswered"] == []


async def test_send_malformed_then_the_stream_goes_on(sim: Simulator, client: Any) -> None:
    async with client(LINEAR) as c:
        await c.send({"op": "subscribe", "args": ["orderbook.1.BTCUSDT"]})
        await c.until(lambda m: m.get("topic") == "orderbook.1.BTCUSDT")
        assert await sim.faults.send_malformed(path=LINEAR) == 1
        raw = []
        while True:
            text = await asyncio.wait_for(c.ws.recv(), 5)
            raw.append(text)
            if text == MALFORMED_FRAME:
                break
        with pytest.raises(json.JSONDecodeError):
            json.loads(raw[-1])
        await c.until(lambda m: m.get("topic") == "orderbook.1.BTCUSDT")


async def test_stall_holds_frames_then_delivers_them_in_order(sim: Simulator, client: Any) -> None:
    loop = asyncio.get_running_loop()
    async with client(LINEAR) as c:
        await c.send({"op": "subscribe", "args": [TOPIC]})
        await c.until(lambda m: m.get("topic") == TOPIC)
        start_ms = sim.now_ms()
        end_ms = start_ms + int(0.4 * 1000 * sim.speed)  # the stall's end in exchange time
        assert sim.faults.stall(path=LINEAR, seconds=0.4) == 1
        t0 = loop.time()
        await c.send({"req_id": "held", "op": "ping"})
        await c.until(lambda m: m.get("req_id") == "held", what="the pong the stall held back")
        held = loop.time() - t0
        after_pong = len(c.seen)
        await c.until(lambda m: m.get("topic") == TOPIC and m["ts"] > end_ms + 100, what="a push after the stall")
    assert held >= 0.35, f"the reply came {held:.3f} s after a 0.4 s stall began"
    pushed_during = [m for m in c.seen[after_pong:] if m.get("topic") == TOPIC and m["ts"] < end_ms - 100]
    assert len(pushed_during) > 3, "pushes made during the stall arrive after it, with the held reply"
    us = [m["data"]["u"] for m in c.seen if m.get("topic") == TOPIC]
    assert us == list(range(us[0], us[0] + len(us))), "nothing lost, nothing reordered"


async def test_reject_subscribe_is_one_shot(sim: Simulator, client: Any) -> None:
    sim.faults.reject_subscribe("orderbook.50.ETHUSDT", "error:handler not found,topic:orderbook.50.ETHUSDT")
    async with client(LINEAR) as c:
        await c.send({"op": "subscribe", "args": ["orderbook.50.ETHUSDT"]})
        err = await c.recv()
        assert err["success"] is False and err["ret_msg"] == "error:handler not found,topic:orderbook.50.ETHUSDT"
        await c.send({"op": "subscribe", "args": ["orderbook.50.ETHUSDT"]})
        assert (await c.recv())["success"] is True


async def test_idle_timeout_cuts_only_idle_private_sockets(sim: Simulator, client: Any) -> None:
    loop = asyncio.get_running_loop()
    sim.faults.idle_timeout(path="/v5/private", seconds=0.3)
    async with client("/v5/private") as idle, client("/v5/private") as busy:
        t0 = loop.time()
        cut = asyncio.ensure_future(idle.ws.wait_closed())
        while not cut.done():  # busy keeps talking (each ping a round trip) until the idle one is cut
            assert loop.time() - t0 < scaled(5), "the idle socket was never cut"
            await busy.send({"op": "ping"})
            await busy.recv()
        assert loop.time() - t0 >= 0.25
        with pytest.raises(ConnectionClosed):
            await idle.recv(timeout=2)
        await busy.send({"op": "ping"})
        assert (await busy.recv())["op"] == "pong"


async def test_restart_serves_again_on_the_same_port_and_warns_trade_sockets(sim: Simulator, client: Any) -> None:
    port = sim.port
    async with client("/v5/trade") as trade:
        await sim.restart()
        notice = await trade.recv()
        assert notice["retCode"] == 10019
        with pytest.raises(ConnectionClosed):
            await trade.recv(timeout=2)
    assert sim.port == port
    async with connect(sim.url + LINEAR) as ws:
        await ws.send(json.dumps({"op": "subscribe", "args": [TOPIC]}))
        assert json.loads(await ws.recv())["success"] is True
        snap = json.loads(await ws.recv())
        assert snap["type"] == "snapshot"


def test_level1_repeats_the_same_u_after_3s_without_change() -> None:
    inst = build_universe(["BTCUSDT"], 0, 0)["linear"]["BTCUSDT"]
    market = Market(inst, 0, 0)
    feed = BookFeed("orderbook.1.BTCUSDT", "linear", market, 1)
    feed.activate(0)
    u = feed.u
    assert feed.tick(10) == []
    assert feed.tick(LEVEL1_REPUSH_MS - 1) == []
    (again,) = feed.tick(LEVEL1_REPUSH_MS)
    msg = json.loads(again)
    assert msg["type"] == "snapshot" and msg["data"]["u"] == u
    market.perturb(1)
    changed = [json.loads(f) for f in feed.tick(LEVEL1_REPUSH_MS + 10)]
    assert changed and changed[0]["type"] == "snapshot" and changed[0]["data"]["u"] == u + 1


def test_market_model_is_deterministic_given_the_seed() -> None:
    def run(seed: int) -> tuple[Any, ...]:
        inst = build_universe(["BTCUSDT"], seed, 1_700_000_000_000)["linear"]["BTCUSDT"]
        m = Market(inst, seed, 1_700_000_000_000)
        for i in range(300):
            m.step(1_700_000_000_000 + 20 * i)
        return (m.book.top("Buy", 20), m.book.top("Sell", 20), [(t.price, t.qty, t.trade_id) for t in m.trades])

    a, b, c = run(5), run(5), run(6)
    assert a == b
    assert a != c
    assert len(a[2]) > 30  # the model trades


def test_market_book_never_crosses_and_prices_look_real() -> None:
    universe = build_universe(["BTCUSDT", "ETHUSDT"], 2, 1_700_000_000_000)
    for cat in ("spot", "linear", "inverse"):
        for inst in universe[cat].values():
            m = Market(inst, 2, 1_700_000_000_000)
            for i in range(1_000):
                m.step(1_700_000_000_000 + 20 * i)
                bid, ask = m.book.best("Buy"), m.book.best("Sell")
                assert bid is not None and ask is not None and bid < ask
            mid = inst.pxf(m.mid() or 0)
            assert 0.8 * inst.ref_price < mid < 1.2 * inst.ref_price
            if inst.base == "BTC":
                assert 60_000 < mid < 100_000


def test_an_idle_market_keeps_a_bounded_history_of_trades() -> None:
    """A simulator left running (the demo, a gateway over it) must not grow without bound: a market keeps
    the trades REST's recent-trade can serve and its book stays near its depth, however long it runs."""
    inst = build_universe(["BTCUSDT"], 3, 1_700_000_000_000)["linear"]["BTCUSDT"]
    m = Market(inst, 3, 1_700_000_000_000)
    for i in range(60_000):
        m.step(1_700_000_000_000 + 20 * i)
    assert m.trade_count > 2 * RECENT_TRADE_MAX_LIMIT  # it traded well past the cap ...
    assert len(m.trades) == RECENT_TRADE_MAX_LIMIT  # ... and kept exactly what recent-trade may return
    assert m.trades[-1].n == m.trade_count  # the newest are the ones kept
    for side in ("Buy", "Sell"):
        assert m.book.count(side) <= m.levels + 100
