"""Public endpoints of the simulator, driven by a plain websockets client and checked against the reference."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from helpers import scaled
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rxbybit.protocol import OrderBook, decode
from rxbybit.protocol.events import BookUpdate
from rxbybit.sim import Simulator

LINEAR = "/v5/public/linear"


async def test_pong_and_ack_shapes_differ_by_endpoint_as_on_bybit(sim: Simulator, client: Any) -> None:
    async with client("/v5/public/linear") as c:
        await c.send({"op": "ping"})
        pong = await c.recv()
        assert pong["success"] is True and pong["ret_msg"] == "pong" and pong["op"] == "ping"
        assert pong["req_id"] == "" and re.fullmatch(r"[0-9a-v]{20}-[0-9a-z]+", pong["conn_id"])
        await c.send({"req_id": 42, "op": "subscribe", "args": ["tickers.BTCUSDT"]})
        ack = await c.recv()  # a numeric req_id comes back as a string
        assert ack == {"success": True, "ret_msg": "", "conn_id": pong["conn_id"], "req_id": "42", "op": "subscribe"}
    async with client("/v5/public/spot") as c:
        await c.send({"op": "ping"})
        pong = await c.recv()
        assert "req_id" not in pong and pong["ret_msg"] == "pong" and pong["op"] == "ping"
        await c.send({"req_id": "s1", "op": "subscribe", "args": ["publicTrade.BTCUSDT"]})
        ack = await c.recv()
        assert ack["ret_msg"] == "subscribe" and ack["req_id"] == "s1" and ack["success"] is True
    async with client("/v5/public/option") as c:
        await c.send({"req_id": "o", "op": "ping"})
        pong = await c.recv()
        assert set(pong) == {"args", "op"} and pong["op"] == "pong" and pong["args"][0].isdigit()
        topic = f"orderbook.25.{sim.option_symbols('BTC')[0]}"
        await c.send({"op": "subscribe", "args": [topic, "orderbook.25.NOPE-1JAN30-1-C"]})
        ack = await c.recv()
        assert ack["type"] == "COMMAND_RESP" and ack["success"] is True
        assert ack["data"] == {"failTopics": ["orderbook.25.NOPE-1JAN30-1-C"], "successTopics": [topic]}
        snap = await c.until(lambda m: m.get("topic") == topic)
        assert snap["type"] == "snapshot"
    async with client("/spot/public/v3") as c:
        await c.send({"req_id": "100001", "op": "ping"})
        pong = await c.recv()
        assert pong["op"] == "pong" and isinstance(pong["args"][0], int) and pong["req_id"] == "100001"


async def test_subscribe_errors_use_bybits_strings_and_keep_the_socket(client: Any) -> None:
    async with client("/v5/public/spot") as c:
        await c.send({"op": "subscribe", "args": [f"publicTrade.BTCUSDT{i}" for i in range(11)]})
        err = await c.recv()
        assert err["success"] is False and err["ret_msg"] == "args size >10" and err["op"] == "subscribe"
    async with client(LINEAR) as c:
        for bad in ("publicTrade.NOTASYMBOL", "orderbook.500.BTCUSDT", "orderbook.50.btcusdt", "order"):
            await c.send({"req_id": "e", "op": "subscribe", "args": [bad]})
            err = await c.recv()
            assert err["ret_msg"] == f"error:handler not found,topic:{bad}" and err["success"] is False
        await c.send({"op": "subscribe", "args": ["orderbook.1.ETHUSDT"]})
        assert (await c.recv())["success"] is True
        await c.send({"req_id": "e6", "op": "subscribe", "args": ["orderbook.1.ETHUSDT"]})
        err = await c.until(lambda m: "ret_msg" in m)
        assert err["ret_msg"] == "error:already subscribed,topic:orderbook.1.ETHUSDT" and err["req_id"] == "e6"
        await c.send("hello")
        err = await c.until(lambda m: "ret_msg" in m)
        assert err["success"] is False and err["ret_msg"].startswith("Failed to decode incoming data")
        await c.send({"op": "bogus"})
        err = await c.until(lambda m: "ret_msg" in m)
        assert err["ret_msg"] == "error:invalid op"
        await c.send({"op": "ping", "req_id": "alive"})
        pong = await c.until(lambda m: m.get("ret_msg") == "pong")
        assert pong["req_id"] == "alive"


async def test_unknown_path_gets_404_and_bad_max_active_time_gets_400(sim: Simulator) -> None:
    for path, status in (("/v5/public/nope", 404), ("/v5/private?max_active_time=5s", 400)):
        try:
            async with connect(sim.url + path):
                raise AssertionError(f"{path} should have been refused")
        except InvalidStatus as exc:
            assert exc.response.status_code == status


class Checker:
    """Applies a linear BTCUSDT stream and checks every market invariant frame by frame."""

    def __init__(self) -> None:
        self.book50, self.book1 = OrderBook(), OrderBook()
        self.ticker: dict[str, str] = {}
        self.counts = {"delta": 0, "trade": 0, "ticker": 0}
        self.seqs: list[int] = []

    def feed(self, f: dict[str, Any]) -> None:
        topic = f.get("topic")
        book50, book1 = self.book50, self.book1
        if topic == "orderbook.50.BTCUSDT":
            ev = decode_book(f)
            if ev.snapshot:
                book50.apply(ev)
            else:
                assert ev.u == book50.u + 1, f"u gap {book50.u} -> {ev.u}"
                assert book50.apply(ev).changed
                self.counts["delta"] += 1
            assert not book50.crossed and len(book50.bids()) <= 50 and len(book50.asks()) <= 50
            self.seqs.append(ev.seq)
        elif topic == "orderbook.1.BTCUSDT":
            book1.apply(decode_book(f))
        elif topic == "publicTrade.BTCUSDT":
            levels = dict(book50.asks() if f["data"][0]["S"] == "Buy" else book50.bids())
            for t in f["data"]:
                price, qty = float(t["p"]), float(t["v"])
                assert price in levels and qty <= levels[price] + 1e-9, f"trade {t} not allowed by the book"
                levels[price] -= qty
                self.counts["trade"] += 1
        elif topic == "tickers.BTCUSDT":
            self.ticker = dict(f["data"]) if f["type"] == "snapshot" else {**self.ticker, **f["data"]}
            self.counts["ticker"] += 1
            bb, ba = book1.best_bid, book1.best_ask
            assert bb is not None and ba is not None
            assert (float(self.ticker["bid1Price"]), float(self.ticker["bid1Size"])) == bb
            assert (float(self.ticker["ask1Price"]), float(self.ticker["ask1Size"])) == ba


async def test_books_trades_and_tickers_stay_consistent(sim: Simulator, client: Any) -> None:
    """u contiguous, never crossed, trades at levels the last book showed, ticker top = book top."""
    topics = ["publicTrade.BTCUSDT", "orderbook.50.BTCUSDT", "orderbook.1.BTCUSDT", "tickers.BTCUSDT"]
    check = Checker()
    async with client(LINEAR) as c:
        await c.send({"op": "subscribe", "args": topics})
        counts = check.counts
        async with asyncio.timeout(scaled(10)):  # read until enough of each kind was checked
            while not (counts["delta"] > 20 and counts["trade"] > 3 and counts["ticker"] > 5):
                check.feed(await c.recv())
        assert check.seqs == sorted(check.seqs)
        async with asyncio.timeout(scaled(5)):  # frames may still be in flight: catch up with the server
            while (published := sim.published_book("linear", "orderbook.50.BTCUSDT"))[0] != check.book50.u:
                check.feed(await c.recv())
    book = check.book50
    assert published == (book.u, book.bids(), book.asks())


def decode_book(frame: dict[str, Any]) -> BookUpdate:
    import json

    ev = decode(json.dumps(frame))
    assert isinstance(ev, BookUpdate), ev
    return ev


async def test_all_depths_are_windows_of_one_book(sim: Simulator) -> None:
    """Every depth's published top levels agree where they overlap (same market, same instant)."""
    async with connect(sim.url + LINEAR) as ws:
        import json

        topics = [f"orderbook.{d}.ETHUSDT" for d in (1, 50, 200, 1000)]
        await ws.send(json.dumps({"op": "subscribe", "args": topics}))
        for _ in range(len(topics) + 1):
            await ws.recv()
        books = {d: sim.published_book("linear", f"orderbook.{d}.ETHUSDT") for d in (1, 50, 200, 1000)}
    _, b1000, a1000 = books[1000]
    assert len(b1000) == 1000 and len(a1000) == 1000
    assert b1000[0][0] < a1000[0][0]
    assert books[200][1][0][0] <= a1000[0][0]


async def test_klines_equal_the_trades_they_summarize(client: Any) -> None:
    async with Simulator(seed=11, symbols=("ETHUSDT",), speed=150.0) as fast, connect(fast.url + LINEAR) as ws:
        import json

        await ws.send(json.dumps({"op": "subscribe", "args": ["publicTrade.ETHUSDT", "kline.1.ETHUSDT"]}))
        trades: list[dict[str, Any]] = []
        first_start: int | None = None
        confirmed: dict[str, Any] | None = None
        async with asyncio.timeout(10):
            while confirmed is None:
                msg = json.loads(await ws.recv())
                if msg.get("topic") == "publicTrade.ETHUSDT":
                    trades.extend(msg["data"])
                elif msg.get("topic") == "kline.1.ETHUSDT":
                    for k in msg["data"]:
                        if first_start is None:
                            first_start = k["start"]
                        elif k["confirm"] and k["start"] > first_start:
                            confirmed = k
    assert confirmed is not None
    inside = [t for t in trades if confirmed["start"] <= t["T"] <= confirmed["end"]]
    assert inside, "a one-minute candle at speed 150 should hold trades"
    prices = [float(t["p"]) for t in inside]
    assert float(confirmed["open"]) == prices[0] and float(confirmed["close"]) == prices[-1]
    assert float(confirmed["high"]) == max(prices) and float(confirmed["low"]) == min(prices)
    assert abs(float(confirmed["volume"]) - sum(float(t["v"]) for t in inside)) < 1e-6
    assert confirmed["end"] - confirmed["start"] == 59_999


async def test_option_trades_by_base_coin_and_ticker_snapshots(sim: Simulator, client: Any) -> None:
    symbol = sim.option_symbols("BTC")[0]
    async with client("/v5/public/option") as c:
        await c.send({"op": "subscribe", "args": ["publicTrade.BTC", f"tickers.{symbol}"]})
        tick = await c.until(lambda m: m.get("topic") == f"tickers.{symbol}")
        assert tick["type"] == "snapshot" and tick["id"].startswith(f"tickers.{symbol}") and "cs" not in tick
        assert {"bidPrice", "askPrice", "markPrice", "delta", "underlyingPrice"} <= set(tick["data"])
        trade = await c.until(lambda m: m.get("topic") == "publicTrade.BTC", timeout=10)
        assert all(t["s"].startswith("BTC-") and "mP" in t for t in trade["data"])


async def test_spot_tickers_are_snapshots_and_v3_frames_have_v3_shapes(client: Any) -> None:
    async with client("/v5/public/spot") as c:
        await c.send({"op": "subscribe", "args": ["tickers.BTCUSDT"]})
        msgs = [await c.until(lambda m: m.get("topic") == "tickers.BTCUSDT") for _ in range(2)]
        assert all(m["type"] == "snapshot" and "usdIndexPrice" in m["data"] for m in msgs)
    async with client("/spot/public/v3") as c:
        await c.send({"req_id": "1", "op": "subscribe", "args": ["orderbook.40.BTCUSDT", "trade.BTCUSDT"]})
        ack = await c.recv()
        assert ack["ret_msg"] == "subscribe" and ack["success"] is True
        book = await c.until(lambda m: m.get("topic") == "orderbook.40.BTCUSDT")
        assert set(book["data"]) == {"s", "t", "b", "a"} and len(book["data"]["b"]) == 40
        trade = await c.until(lambda m: m.get("topic") == "trade.BTCUSDT", timeout=10)
        assert isinstance(trade["data"], dict) and isinstance(trade["data"]["m"], bool)


async def test_a_late_subscriber_gets_the_same_u_as_the_others(sim: Simulator, client: Any) -> None:
    topic = "orderbook.200.BTCUSDT"
    async with client(LINEAR) as a, client(LINEAR) as b:
        await a.send({"op": "subscribe", "args": [topic]})
        await a.until(lambda m: m.get("topic") == topic and m["type"] == "delta")
        await b.send({"op": "subscribe", "args": [topic]})
        snap = await b.until(lambda m: m.get("topic") == topic)
        assert snap["type"] == "snapshot"
        nxt_b = await b.until(lambda m: m.get("topic") == topic)
        nxt_a = await a.until(lambda m: m.get("topic") == topic and m["data"]["u"] == nxt_b["data"]["u"])
        assert nxt_b["data"]["u"] == snap["data"]["u"] + 1 and nxt_a["data"] == nxt_b["data"]


async def test_unsubscribe_stops_the_pushes(sim: Simulator, client: Any) -> None:
    async with client(LINEAR) as c:
        await c.send({"op": "subscribe", "args": ["orderbook.1.BTCUSDT"]})
        await c.until(lambda m: m.get("topic") == "orderbook.1.BTCUSDT")
        await c.send({"op": "unsubscribe", "args": ["orderbook.1.BTCUSDT"]})
        await c.until(lambda m: m.get("op") == "unsubscribe")
        acked = len(c.seen)
        # the barrier: another topic's pushes prove the clock ran on after the ack
        await c.send({"op": "subscribe", "args": ["orderbook.50.ETHUSDT"]})
        for _ in range(5):
            await c.until(lambda m: m.get("topic") == "orderbook.50.ETHUSDT" and m["type"] == "delta")
    assert not sim.feed("linear", "orderbook.1.BTCUSDT").active
    assert [m for m in c.seen[acked:] if m.get("topic") == "orderbook.1.BTCUSDT"] == []


async def test_server_closes_cleanly(sim: Simulator, client: Any) -> None:
    async with client(LINEAR) as c:
        await sim.stop()
        try:
            await c.recv(timeout=2)
            raise AssertionError("expected the connection to close")
        except ConnectionClosed:
            pass
