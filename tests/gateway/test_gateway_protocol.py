"""The gateway protocol over a plain websockets client, against the simulator on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request

from helpers import eventually
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rxbybit.gateway import ErrorCode, Gateway

from .conftest import Client, open_client, upstream_subscribed

TICKER = "/external/linear/tickers.BTCUSDT"


async def test_direction_then_subscribe_passes_bybit_frames_through(client: Client) -> None:
    """A subscribe on the chosen direction is acked, then Bybit's own frames arrive inside events."""
    ack = await client.request("/external", {"direction": "linear"})
    assert ack == {"type": "ack", "path": "/external", "id": ack["id"], "data": {"direction": "linear"}}
    ack = await client.request("/external", {"op": "subscribe", "args": ["tickers.BTCUSDT"], "req_id": "x1"})
    assert ack["type"] == "ack"
    assert ack["data"]["subscribed"] == [TICKER]
    assert ack["data"]["req_id"] == "x1"
    ev = await client.until(lambda m: m["type"] == "event" and m["path"] == TICKER, what="a ticker event")
    bybit = ev["data"]
    assert bybit["topic"] == "tickers.BTCUSDT"
    assert bybit["type"] in ("snapshot", "delta")
    assert bybit["data"]["symbol"] == "BTCUSDT"
    assert isinstance(bybit["ts"], int)


async def test_path_without_slash_and_direction_with_op_in_one_request(client: Client) -> None:
    ack = await client.request("external", {"direction": "spot", "op": "subscribe", "args": ["publicTrade.ETHUSDT"]})
    assert ack["path"] == "/external"
    assert ack["data"]["subscribed"] == ["/external/spot/publicTrade.ETHUSDT"]
    pong = await client.request("/external", {"op": "ping"})
    assert pong["data"]["op"] == "ping" and pong["data"]["direction"] == "spot" and pong["data"]["ts"] > 0


async def test_many_clients_one_exchange_subscription(gateway: Gateway) -> None:
    """Three gateway clients on one topic cost one subscription on the exchange, released by the last."""
    sim = gateway.simulator
    clients = [await open_client(gateway) for _ in range(3)]
    try:
        for c in clients:
            ack = await c.request("/external", {"direction": "linear", "op": "subscribe",
                                                "args": ["orderbook.50.BTCUSDT"]})
            assert ack["type"] == "ack"
        feed = sim.feed("linear", "orderbook.50.BTCUSDT")
        await eventually(lambda: len(feed.subscribers) == 1, what="one exchange subscriber")
        for c in clients:
            await c.until(lambda m: m["type"] == "event" and m["path"].endswith("orderbook.50.BTCUSDT"))
        assert len(feed.subscribers) == 1
        for c in clients[:2]:
            ack = await c.request("/unsubscribe", {"path": "/external/linear/orderbook.50.BTCUSDT"})
            assert ack["type"] == "ack"
        # barrier: a later subscription on the same upstream socket is acknowledged, so the exchange
        # has seen anything the gateway sent it before (an unsubscribe would have been sent at once)
        ack = await clients[2].request("/external", {"op": "subscribe", "args": ["tickers.BTCUSDT"]})
        assert ack["data"]["subscribed"] == [TICKER]
        await upstream_subscribed(gateway)
        assert len(feed.subscribers) == 1, "the last client still watches: the exchange subscription stays"
        ack = await clients[2].request("/external", {"op": "unsubscribe", "args": ["orderbook.50.BTCUSDT"]})
        assert ack["data"]["unsubscribed"] == ["/external/linear/orderbook.50.BTCUSDT"]
        await eventually(lambda: len(feed.subscribers) == 0, what="the exchange subscription to be released")
    finally:
        for c in clients:
            await c.close()


async def test_same_events_for_every_client_and_nothing_after_unsubscribe(gateway: Gateway) -> None:
    a, b = await open_client(gateway), await open_client(gateway)
    try:
        for c in (a, b):
            await c.request("/external", {"direction": "linear", "op": "subscribe", "args": ["tickers.BTCUSDT"]})
        for c in (a, b):
            await c.until(lambda m, c=c: len(c.events(TICKER)) >= 3, what="three ticker events")
        common = {json.dumps(e["data"], sort_keys=True) for e in a.events(TICKER)} & \
                 {json.dumps(e["data"], sort_keys=True) for e in b.events(TICKER)}
        assert common, "both clients must see the same upstream frames"
        await a.request("/unsubscribe", {"path": TICKER})
        acked = len(a.seen)
        # barrier: b gets an event newer than any a had before the ack, so it was fanned out after the
        # unsubscribe; a copy for a would have been written then, and a round trip reads it
        newest: int = max(e["data"]["ts"] for e in a.events(TICKER))
        await b.until(lambda m: m["type"] == "event" and m["path"] == TICKER and m["data"]["ts"] > newest,
                      what="b's events going on")
        await a.round_trip()
        assert not [m for m in a.seen[acked:] if m["type"] == "event" and m["path"] == TICKER]
    finally:
        await a.close()
        await b.close()


async def test_symbols_list_then_live_events(client: Client) -> None:
    ack = await client.request("/symbols")
    assert ack["data"] == {"subscribed": "/symbols"}
    first = await client.until(lambda m: m["type"] == "event" and m["path"] == "/symbols")
    assert first["data"]["event"] == "list"
    assert [(s["category"], s["symbol"]) for s in first["data"]["symbols"]] == [("linear", "BTCUSDT"),
                                                                                  ("spot", "ETHUSDT")]
    live = await client.until(lambda m: m["path"] == "/symbols" and m["data"].get("event") == "ticker")
    assert live["data"]["symbol"] in ("BTCUSDT", "ETHUSDT")
    assert live["data"]["lastPrice"] > 0
    again = await client.request("/symbols")
    assert again["data"]["already"] is True


async def test_bad_topics_and_unlisted_instruments(gateway: Gateway, client: Client) -> None:
    """A malformed topic, and a well-formed one naming an instrument the exchange does not list, are
    refused up front: nothing reaches the exchange."""
    await client.request("/external", {"direction": "linear"})
    bad = await client.request("/external", {"op": "subscribe", "args": ["tickers.BTCUSDT", "orderbook.30.BTCUSDT"]})
    assert bad["code"] == ErrorCode.BAD_TOPIC and "orderbook" in bad["message"]
    assert "nothing was subscribed" in bad["message"]
    unlisted = await client.request("/external", {"op": "subscribe", "args": ["tickers.ETHUSDT", "tickers.NOPEUSDT"]})
    assert unlisted["code"] == ErrorCode.BAD_TOPIC and "'NOPEUSDT' is not an instrument listed" in unlisted["message"]
    assert "nothing was subscribed" in unlisted["message"]
    assert gateway.hub is not None and gateway.hub.public.health_now().topics == {}, "nothing reached upstream"
    ok = await client.request("/external", {"direction": "option", "op": "subscribe", "args": ["publicTrade.BTC"]})
    assert ok["type"] == "ack", "an option base coin is listed too"


async def test_bad_input_gets_clear_errors_and_the_connection_stays(client: Client) -> None:
    cases: list[tuple[str | dict[str, object], ErrorCode, str]] = [
        ("not json at all", ErrorCode.NOT_JSON, "not JSON"),
        ("[1, 2]", ErrorCode.BAD_REQUEST, "JSON object"),
        ({"payload": {}}, ErrorCode.BAD_REQUEST, "missing \"path\""),
        ({"path": "/nowhere"}, ErrorCode.UNKNOWN_PATH, "/nowhere"),
        ({"path": "/external"}, ErrorCode.MISSING_PAYLOAD, "payload"),
        ({"path": "/unsubscribe"}, ErrorCode.MISSING_PAYLOAD, "payload"),
        ({"path": "authorization"}, ErrorCode.MISSING_PAYLOAD, "accessToken"),
        ({"path": "/external", "payload": {"direction": "futures"}}, ErrorCode.BAD_DIRECTION, "'futures'"),
        ({"path": "/external", "payload": {"op": "subscribe", "args": ["tickers.BTCUSDT"]}}, ErrorCode.NO_DIRECTION,
         "direction"),
        ({"path": "/external", "payload": {"op": "auth", "args": []}}, ErrorCode.UNSUPPORTED_OP, "'auth'"),
        ({"path": "/external", "payload": {"direction": "private"}}, ErrorCode.UNAUTHORIZED, "authorization"),
        ({"path": "/user/profile"}, ErrorCode.UNAUTHORIZED, "authorization"),
        ({"path": "/user/notifications"}, ErrorCode.UNAUTHORIZED, "authorization"),
        ({"path": "/symbols", "payload": "x"}, ErrorCode.BAD_PAYLOAD, "JSON object"),
        ("x" * 20_000, ErrorCode.FRAME_TOO_LARGE, "16384"),
    ]
    for frame, code, words in cases:
        await client.send(frame)
        reply = await client.until(lambda m: m["type"] in ("ack", "error"), what=f"reply to {str(frame)[:40]}")
        assert reply["type"] == "error", frame
        assert reply["code"] == code, (frame, reply)
        assert words in reply["message"], (frame, reply)
    ack = await client.request("/external", {"direction": "inverse"})
    assert ack["type"] == "ack", "the connection survives every bad request"


async def test_too_many_subscriptions(client: Client) -> None:
    """The limit (8 in these tests) is enforced per request: nothing past it is subscribed."""
    await client.request("/external", {"direction": "linear"})
    ack = await client.request("/external", {"op": "subscribe", "args": [f"kline.{i}.BTCUSDT" for i in
                                                                         ("1", "3", "5", "15", "30", "60")]})
    assert len(ack["data"]["subscribed"]) == 6
    err = await client.request("/external", {"op": "subscribe", "args": ["tickers.BTCUSDT", "tickers.ETHUSDT",
                                                                         "publicTrade.BTCUSDT"]})
    assert err["code"] == ErrorCode.TOO_MANY_SUBSCRIPTIONS and "at most 8" in err["message"]
    ok = await client.request("/external", {"op": "subscribe", "args": ["tickers.BTCUSDT", "tickers.ETHUSDT"]})
    assert ok["type"] == "ack"
    full = await client.request("/symbols")
    assert full["code"] == ErrorCode.TOO_MANY_SUBSCRIPTIONS


async def test_flood_is_refused_then_the_abuser_is_closed(gateway: Gateway) -> None:
    """Past the rate limit requests get a RATE_LIMITED error; a sustained flood closes the connection.

    (That requests are allowed again once the rate drops is tested with a fake clock, in
    test_gateway_session.py.)"""
    c = await open_client(gateway)
    try:
        for _ in range(100):  # burst is 60 in these tests
            await c.send({"path": "/external", "payload": {"direction": "spot"}})
        limited = await c.until(lambda m: m.get("code") == ErrorCode.RATE_LIMITED, what="the RATE_LIMITED error")
        assert "too many requests" in limited["message"]
        assert 55 <= len([m for m in c.seen if m["type"] == "ack"]) < 100
        with contextlib.suppress(ConnectionClosed):
            for _ in range(2_000):  # bounded: far more than max_rate_violations=200
                await c.send("{}")
        assert await c.closed_by_gateway() == 1008
    finally:
        await c.close()
    other = await open_client(gateway)
    try:
        assert (await other.request("/external", {"direction": "spot"}))["type"] == "ack", "others unaffected"
    finally:
        await other.close()


async def test_frame_over_the_hard_limit_closes_only_that_connection(gateway: Gateway) -> None:
    c = await open_client(gateway)
    await c.send("x" * (gateway.limits.hard_max_message_bytes + 10))
    assert await c.closed_by_gateway() == 1009
    other = await open_client(gateway)
    try:
        assert (await other.request("/external", {"direction": "spot"}))["type"] == "ack"
    finally:
        await other.close()


async def test_page_is_served_on_the_same_port(gateway: Gateway) -> None:
    def fetch(url: str) -> tuple[int, str, str]:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.headers["Content-Type"], r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers["Content-Type"], e.read().decode()

    status, ctype, body = await asyncio.to_thread(fetch, gateway.http_url)
    assert status == 200 and ctype.startswith("text/html")
    assert "<title>rxbybit gateway</title>" in body and "/user/profile" in body
    status, _, body = await asyncio.to_thread(fetch, gateway.http_url + "nope")
    assert status == 404 and "/ws" in body
    async with connect(gateway.url.replace("/ws", "/")) as ws:  # any path upgrades
        await ws.send(json.dumps({"path": "/external", "payload": {"direction": "spot"}}))
        assert json.loads(await ws.recv())["type"] == "ack"
