"""What clients can make the gateway ask of the exchange, and keep: topics are forgotten when their
last observer leaves and when the exchange rejects them, storms leave nothing subscribed, and a
client that stops reading is cut off."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from typing import Any

from helpers import eventually, scaled

from rxbybit.gateway import Gateway, Limits, UserStore
from rxbybit.protocol.endpoints import CATEGORIES

from .conftest import Client, make_gateway, open_client

OPEN = Limits(max_subscriptions=500, rate=1e6, burst=1e6, topic_rate=1e6, topic_burst=1e6)
"""No per-connection limits in the way: these tests look at what the shared upstream keeps."""

STORM_TOPICS = [f"{kind}.{symbol}" for symbol in ("BTCUSDT", "ETHUSDT")
                for kind in ("tickers", "publicTrade", "orderbook.1", "orderbook.50", "orderbook.200", "kline.1")]
"""Six topics per symbol, each on linear and spot: 24 listed topics, as in the review's storm."""


def _upstream_empty(gateway: Gateway) -> Callable[[], bool]:
    """True once the gateway holds no topic and the exchange holds no public subscription of its client."""
    assert gateway.hub is not None
    hub, sim = gateway.hub, gateway.simulator

    def check() -> bool:
        return (hub.public.health_now().topics == {} and hub._public_router.topic_count == 0
                and all(not c.subs for c in sim.connections if c.endpoint in CATEGORIES))

    return check


def _record_upstream(gateway: Gateway) -> list[tuple[float, str, str, int]]:
    """``(time, endpoint, op, number of args)`` of every request the exchange receives from now on."""
    wire = gateway.simulator._wire
    seen: list[tuple[float, str, str, int]] = []
    dispatch = wire.dispatch

    def recording(conn: Any, text: str) -> None:
        msg = json.loads(text)
        if isinstance(msg, dict) and msg.get("op") in ("subscribe", "unsubscribe"):
            seen.append((time.monotonic(), conn.endpoint, msg["op"], len(msg.get("args") or ())))
        dispatch(conn, text)

    wire.dispatch = recording
    return seen


async def _subscribe(c: Client, direction: str, args: list[str]) -> dict[str, Any]:
    return await c.request("/external", {"direction": direction, "op": "subscribe", "args": args})


async def test_distinct_names_are_forgotten_on_rejection_and_when_clients_leave(store: UserStore) -> None:
    """Without an instrument list (a network without REST), names reach the exchange; whatever it
    rejects, and whatever the clients abandon, leaves nothing behind in the gateway or its client."""
    names = [f"tickers.L{i}USDT" for i in range(400)]
    async with make_gateway(store, limits=OPEN, instruments={}) as gw:
        clients = [await open_client(gw) for _ in range(4)]
        try:
            for n, c in enumerate(clients):
                mine = names[n::4]
                for i in range(0, len(mine), 10):
                    assert (await _subscribe(c, "linear", mine[i:i + 10]))["type"] == "ack"
            # two clients wait for every rejection; two leave before theirs arrive
            await clients.pop().close()
            await clients.pop().close()
            for c in clients:
                await c.until(lambda _, c=c: _rejections(c) == 100, timeout=60,  # type: ignore[misc]
                              what="the exchange's rejection of every name")
        finally:
            for c in clients:
                await c.close()
        await eventually(_upstream_empty(gw), timeout=30, what="the gateway and its client to forget every name")


def _rejections(c: Client) -> int:
    return sum(1 for m in c.seen if m["type"] == "error" and m["code"] == 5020)


async def test_unlisted_names_never_reach_the_exchange(gateway: Gateway, client: Client) -> None:
    seen = _record_upstream(gateway)
    for i in range(0, 60, 10):
        reply = await _subscribe(client, "linear", [f"tickers.L{j}USDT" for j in range(i, i + 10)])
        assert reply["code"] == 4006 and "not an instrument listed" in reply["message"]
    assert seen == [] and _upstream_empty(gateway)()


async def test_subscribe_unsubscribe_storms_leave_nothing_subscribed_upstream(store: UserStore) -> None:
    async with make_gateway(store, limits=OPEN) as gw:
        clients = [await open_client(gw) for _ in range(4)]
        try:
            pairs = 0
            for round_ in range(4):
                for n, c in enumerate(clients):
                    for k, topic in enumerate(STORM_TOPICS):
                        direction = ("linear", "spot")[(n + k + round_) % 2]
                        path = f"/external/{direction}/{topic}"
                        await c.send({"path": "/external", "payload": {"direction": direction, "op": "subscribe",
                                                                      "args": [topic]}})
                        await c.send({"path": "/unsubscribe", "payload": {"path": path}})
                        pairs += 1
                    if round_ % 2:  # half the rounds leave one more subscription behind, to be dropped on leaving
                        await c.send({"path": "/external", "payload": {"direction": "linear", "op": "subscribe",
                                                                      "args": [STORM_TOPICS[n]]}})
            for c in clients:
                await c.round_trip()
            assert pairs == 192
        finally:
            for c in clients:
                await c.close()
        await eventually(_upstream_empty(gw), timeout=30, what="no subscription left upstream once every client left")


async def test_a_client_that_stops_reading_is_disconnected(store: UserStore) -> None:
    """Over a real socket: a subscriber that never reads is cut once its unsent bytes pass the cap,
    long before the websocket keepalive would notice (about 50 s); a reading one keeps its stream."""
    from websockets.asyncio.client import connect

    limits = Limits(max_buffered_bytes=65_536, max_unsent_bytes=262_144, slow_client_timeout=2.0)
    topic = "orderbook.200.BTCUSDT"
    async with make_gateway(store, limits=limits) as gw:
        reader = await open_client(gw)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: the gateway's buffer fills soon
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", gw.port))
        ws = await connect(gw.url, sock=sock, max_queue=1, max_size=2**22)
        try:
            request = {"path": "/external", "payload": {"direction": "linear", "op": "subscribe", "args": [topic]}}
            assert (await reader.request("/external", request["payload"]))["type"] == "ack"
            await ws.send(json.dumps(request))
            await eventually(lambda: len(gw.sessions) == 2 and all(s.subscriptions for s in gw.sessions),
                             what="both subscriptions")
            ws.transport.pause_reading()  # the application stops reading: the kernel buffers fill, then ours
            received = [0]
            reading = asyncio.create_task(_read_all(reader, received))
            started = time.monotonic()
            slow = next(s for s in gw.sessions if s is not _session_of(gw, reader))
            while not slow.closed and time.monotonic() - started < scaled(30):  # bounded by time, not bursts:
                await gw.simulator.burst("linear", topic, 2_000)  # a fast simulator pushes 40,000 in about 1 s
            assert slow.closed and slow.close_reason is not None, "the slow client is still connected"
            assert slow.close_reason.startswith(("not reading", "reading too slowly")), slow.close_reason
            assert time.monotonic() - started < scaled(30)
            await eventually(lambda: len(gw.sessions) == 1, what="the slow client to be gone")
            assert not _session_of(gw, reader).closed and received[0] > 2_000, "the reading client keeps its stream"
            reading.cancel()
        finally:
            ws.transport.abort()
            await reader.close()


async def _read_all(client: Client, count: list[int]) -> None:
    async for _ in client.ws:
        count[0] += 1


def _session_of(gateway: Gateway, client: Client) -> Any:
    """The gateway's session of ``client`` (matched by the client's local port)."""
    port = client.ws.local_address[1]
    return next(s for s in gateway.sessions if s.outbox.ws.remote_address[1] == port)
