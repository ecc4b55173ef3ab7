"""Upstream amplification (issue 13, item 6): what a storm of new topics from anonymous clients costs
the exchange. New topics must reach it in batches within Bybit's per-request limits, at a bounded
request rate, so no client can get the gateway's address banned."""

from __future__ import annotations

import asyncio
import time

from helpers import eventually, scaled

from rxbybit.gateway import UserStore
from rxbybit.protocol.limits import args_per_request
from rxbybit.transport.connection import REQUEST_BURST, REQUESTS_PER_S

from .conftest import Client, make_gateway, open_client
from .test_gateway_upstream import OPEN, STORM_TOPICS, _record_upstream, _subscribe


async def test_new_topics_reach_the_exchange_in_batches_within_bybits_limits(store: UserStore) -> None:
    """Four anonymous clients each subscribing 24 topics at once cost the exchange a few batched
    requests, not one a topic (the review counted 1,695 subscribes a second)."""
    async with make_gateway(store, limits=OPEN) as gw:
        clients = [await open_client(gw) for _ in range(4)]
        try:
            # the upstream sockets are open and idle first: the storm meets a live connection
            for direction in ("linear", "spot"):
                assert (await _subscribe(clients[0], direction, ["kline.5.BTCUSDT"]))["type"] == "ack"
            assert gw.hub is not None
            await gw.hub.public.wait_subscribed(timeout=scaled(15))
            seen = _record_upstream(gw)
            await asyncio.gather(*(_subscribe_one_by_one(c, n) for n, c in enumerate(clients)))
            assert gw.hub is not None
            await gw.hub.public.wait_subscribed(timeout=scaled(15))
        finally:
            for c in clients:
                await c.close()
        subscribes = [(endpoint, n) for _, endpoint, op, n in seen if op == "subscribe"]
        topics = sum(n for _, n in subscribes)
        assert topics == len(STORM_TOPICS) * 2, "each distinct topic is subscribed upstream once"
        assert all(n <= args_per_request(endpoint) for endpoint, n in subscribes), "within Bybit's per-request limit"
        print(f"upstream: {len(subscribes)} subscribe requests for {topics} topics")
        assert len(subscribes) <= topics / 3, f"{len(subscribes)} requests for {topics} topics: not batched"


async def _subscribe_one_by_one(c: Client, n: int) -> None:
    """One topic a request, as a naive client does: the batching is the gateway's job."""
    for k, topic in enumerate(STORM_TOPICS):
        direction = ("linear", "spot")[(n + k) % 2]
        await c.send({"path": "/external", "payload": {"direction": direction, "op": "subscribe", "args": [topic]}})
    await c.round_trip()


async def test_a_subscribe_storm_meets_a_bounded_upstream_request_rate(store: UserStore) -> None:
    """Four anonymous clients toggling 24 topics as fast as they can: the exchange sees at most the
    transport's bounded rate of requests per socket (the review measured 1,695 subscribes a second)."""
    async with make_gateway(store, limits=OPEN) as gw:
        clients = [await open_client(gw) for _ in range(4)]
        try:
            for direction in ("linear", "spot"):  # the sockets are open: every toggle could reach the exchange
                assert (await _subscribe(clients[0], direction, ["kline.5.BTCUSDT"]))["type"] == "ack"
            assert gw.hub is not None
            await gw.hub.public.wait_subscribed(timeout=scaled(15))
            seen = _record_upstream(gw)
            started = time.monotonic()
            await asyncio.gather(*(_toggle(c, n, rounds=ROUNDS) for n, c in enumerate(clients)))
            elapsed = time.monotonic() - started
        finally:
            for c in clients:
                await c.close()
        assert gw.hub is not None
        await eventually(lambda: not any(c.subs for c in gw.simulator.connections if c.endpoint in ("linear", "spot")),
                         timeout=30, what="nothing subscribed upstream once the clients left")
    requests = [(t, endpoint) for t, endpoint, _, _ in seen]
    worst = max(_in_one_second(requests, endpoint) for endpoint in ("linear", "spot"))
    print(f"storm: {ROUNDS * 4 * len(STORM_TOPICS) * 2} client requests in {elapsed:.1f} s; upstream "
          f"{len(requests)} requests, at most {worst} in one second on one socket")
    assert worst <= REQUEST_BURST + REQUESTS_PER_S, f"{worst} upstream requests in one second on one socket"


ROUNDS = 4


async def _toggle(c: Client, n: int, rounds: int) -> None:
    """Subscribe and unsubscribe each topic, each request awaited: every one is a separate change."""
    for round_ in range(rounds):
        for k, topic in enumerate(STORM_TOPICS):
            direction = ("linear", "spot")[(n + k + round_) % 2]
            assert (await _subscribe(c, direction, [topic]))["type"] == "ack"
            assert (await c.request("/unsubscribe", {"path": f"/external/{direction}/{topic}"}))["type"] == "ack"


def _in_one_second(requests: list[tuple[float, str]], endpoint: str) -> int:
    """The most requests to ``endpoint`` within any one-second window."""
    times = sorted(t for t, ep in requests if ep == endpoint)
    best = 0
    start = 0
    for end, t in enumerate(times):
        while t - times[start] > 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best
