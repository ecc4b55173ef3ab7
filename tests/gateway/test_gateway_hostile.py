"""The done-when fuzz of issue 13: at least 10,000 hostile requests from many connections, then every
client leaves, and the gateway's memory is back within a stated bound of where it started.

The long version (more connections, more requests, RSS as well) is ``bench/bench_gateway_hostile.py``.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import logging
import random
import tracemalloc
from typing import Any

import orjson
import pytest
from helpers import eventually, scaled
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rxbybit.gateway import Gateway, Limits, UserStore

from .conftest import make_gateway
from .hostile import hostile_request

CONNECTIONS = 40
REQUESTS_PER_CONNECTION = 260
MEMORY_BOUND = 512 * 1024
"""Bytes the gateway may hold beyond its baseline once every hostile client has left (the simulator's
market, in this process too, is not counted)."""

LIMITS = Limits(rate=5_000.0, burst=5_000.0, max_rate_violations=10**6, max_subscriptions=50,
                max_connections_per_address=CONNECTIONS + 10, max_loop_lag=None)
"""The defaults, except request rates high enough that the requests are handled, not just refused,
and no refusal for load: the hostile clients share the gateway's event loop (under tracemalloc), so
its lag measures them too, and a client refused at the door cannot send its share."""


END = '{"path": "/external", "id": "end", "payload": {"op": "ping"}}'
"""Sent after a connection's hostile requests: its reply comes after every other reply."""


async def hostile_client(gateway: Gateway, seed: int, count: int, codes: collections.Counter[Any]) -> int:
    """Send ``count`` hostile requests (reconnecting whenever the gateway closes the connection).

    On a connection the gateway kept open, every request must get exactly one reply.
    """
    rng = random.Random(seed)
    sent = 0
    while sent < count:
        try:
            ws = await connect(gateway.url, max_size=2**22, open_timeout=scaled(60))
        except (InvalidStatus, TimeoutError, OSError):
            codes["refused at connect"] += 1
            assert codes["refused at connect"] < 100, "the gateway keeps refusing connections"
            continue
        replies = [0]
        reader = asyncio.create_task(_read(ws, codes, replies))
        on_this = 0
        try:
            while sent < count:
                await ws.send(hostile_request(rng, sent))
                sent += 1
                on_this += 1
            await ws.send(END)
            if await asyncio.wait_for(reader, scaled(120)):
                assert replies[0] == on_this + 1, f"{on_this} requests got {replies[0] - 1} replies"
        except ConnectionClosed:
            codes["closed by the gateway"] += 1
        finally:
            await ws.close()
            await asyncio.wait_for(reader, scaled(10))
    return sent


async def _read(ws: ClientConnection, codes: collections.Counter[Any], replies: list[int]) -> bool:
    """Count replies by code until the END ping's reply (True) or the connection closes (False)."""
    try:
        async for raw in ws:
            frame = orjson.loads(raw)
            codes[frame.get("code", frame["type"])] += 1
            subscription_notice = (frame.get("path") or "").startswith("/external/") or frame.get("code") == 4292
            if frame["type"] in ("ack", "error") and not subscription_notice:
                replies[0] += 1
            if frame.get("id") == "end":
                return True
    except ConnectionClosed:
        pass
    return False


async def run_hostile(gateway: Gateway, connections: int, per_connection: int, seed: int = 0
                      ) -> tuple[int, collections.Counter[Any]]:
    codes: collections.Counter[Any] = collections.Counter()
    sent = await asyncio.gather(*(hostile_client(gateway, seed * 10_000 + n, per_connection, codes)
                                  for n in range(connections)))
    return sum(sent), codes


NOT_THE_GATEWAYS = (tracemalloc.Filter(False, "*/logging/*"), tracemalloc.Filter(False, "*/_pytest/*"),
                    tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "*/rxbybit/sim/*"),
                    tracemalloc.Filter(False, "*/uuid.py"))
"""Not the gateway's: what the test harness holds (pytest keeps every log record of a test), and the
in-process simulator's market, which fills its bounded trade and candle history as time passes."""


def held_since(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> int:
    """Bytes allocated since ``before`` and still held, outside the test harness."""
    stats = after.filter_traces(NOT_THE_GATEWAYS).compare_to(before.filter_traces(NOT_THE_GATEWAYS), "filename")
    return sum(s.size_diff for s in stats)


def _gateway_empty(gateway: Gateway) -> bool:
    hub = gateway.hub
    assert hub is not None
    return (not gateway.sessions and not gateway._per_address and hub.users_online() == ()
            and hub._public_router.topic_count == 0 and hub.public.health_now().topics == {}
            and not hub._symbols.sinks)


async def test_ten_thousand_hostile_requests_leave_memory_where_it_was(store: UserStore,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    store.add("alice", fingerprint="alice-device")
    async with make_gateway(store, limits=LIMITS) as gw:
        await run_hostile(gw, 4, 100, seed=99)  # warm up: every code path once, the upstream sockets open
        await eventually(lambda: _gateway_empty(gw), timeout=30, what="the warm-up clients to leave")
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            with caplog.at_level(logging.ERROR, logger="rxbybit.gateway"):
                sent, codes = await run_hostile(gw, CONNECTIONS, REQUESTS_PER_CONNECTION)
            peak = tracemalloc.get_traced_memory()[1]  # allocations since the start of tracing, at their highest
            await eventually(lambda: _gateway_empty(gw), timeout=30, what="every hostile client to be gone")
            gc.collect()
            grown = held_since(before, tracemalloc.take_snapshot())
        finally:
            tracemalloc.stop()
        print(f"\n{sent} hostile requests on {CONNECTIONS} connections: peak +{peak / 1e6:.1f} MB, "
              f"after leaving +{grown / 1e3:.0f} KB; replies {dict(codes.most_common())}")
        assert sent >= 10_000
        assert codes[5000] == 0, "an internal error"
        assert not caplog.records, [r.getMessage() for r in caplog.records[:5]]
        assert codes["closed by the gateway"] <= 4, "only token guessing closes a connection here"
        assert grown < MEMORY_BOUND, f"{grown} bytes still held after every client left"
        # and it still serves a well-behaved client
        ws = await connect(gw.url)
        try:
            await ws.send('{"path": "/external", "id": 1, "payload": {"direction": "spot", "op": "ping"}}')
            assert orjson.loads(await asyncio.wait_for(ws.recv(), scaled(5)))["type"] == "ack"
        finally:
            await ws.close()
