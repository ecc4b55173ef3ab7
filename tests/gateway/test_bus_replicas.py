"""Three gateway replicas sharing one upstream through a real redis-server on loopback: one upstream
subscription per topic, upstream unsubscribe when the last client anywhere leaves, late book
clients get a snapshot, fail-over with clients keeping their subscriptions, and no private data on
the bus."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis
from helpers import eventually, scaled
from redis_server import RUNNING, redis_server

import rxbybit as rb
from rxbybit.gateway import Gateway, Limits, StoreVerifier, UserStore
from rxbybit.gateway.bus import BusRouter

from .bus_helpers import BOOK, BOOK_PATH, TICKER, TICKER_PATH, assert_books_unbroken, book_at, book_events
from .conftest import ALICE_KEY, ALICE_SECRET, SIM_OPTIONS, TEST_SYMBOLS, Client, open_client


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
async def replicas(redis_url: str, store: UserStore) -> AsyncIterator[list[Gateway]]:
    gws = [Gateway("sim", verifier=StoreVerifier(store), symbols=TEST_SYMBOLS, sim_options=SIM_OPTIONS,
                   limits=Limits(max_subscriptions=8, rate=40.0, burst=60.0), bus=redis_url) for _ in range(3)]
    try:
        for gw in gws:
            await gw.start()
        await eventually(lambda: sum(_bus(g).leading for g in gws) == 1, 10, "one leader")
        yield gws
    finally:
        for gw in gws:
            with contextlib.suppress(Exception):
                await gw.close()


def _bus(gw: Gateway) -> BusRouter:
    assert gw.bus is not None
    return gw.bus


def _leader(gws: list[Gateway]) -> Gateway:
    leaders = [g for g in gws if g.bus is not None and g.bus.leading]
    assert len(leaders) == 1, [repr(g.bus) for g in gws]
    return leaders[0]


def _upstream_subscribers(gw: Gateway, topic: str) -> int:
    return len(gw.simulator.feed("linear", topic).subscribers)


async def _watch(gw: Gateway, *topics: str) -> Client:
    c = await open_client(gw)
    ack = await c.request("/external", {"direction": "linear", "op": "subscribe", "args": list(topics)})
    assert ack["type"] == "ack", ack
    return c


async def test_one_upstream_subscription_per_topic_across_replicas(replicas: list[Gateway]) -> None:
    clients = [await _watch(gw, BOOK, TICKER) for gw in replicas for _ in range(2)]
    try:
        for c in clients:
            await c.until(lambda m: m.get("path") == TICKER_PATH, what="a ticker event")
            await c.until(lambda m: m.get("path") == BOOK_PATH and m["data"]["type"] == "delta", what="a book delta")
        gw0 = replicas[0]
        assert _upstream_subscribers(gw0, BOOK) == 1 and _upstream_subscribers(gw0, TICKER) == 1
        leader = _leader(replicas)
        assert _bus(leader).upstream_topics == [("linear", BOOK), ("linear", TICKER)]
        assert all(_bus(g).upstream_topics == [] for g in replicas if g is not leader)
        for c in clients:
            assert_books_unbroken(c)
        # leaving: the upstream stays while any client anywhere watches, and goes with the last one
        for c in clients[:-1]:
            await c.close()
        await clients[-1].round_trip()
        assert _upstream_subscribers(gw0, BOOK) == 1
        await clients[-1].request("/unsubscribe", {"path": TICKER_PATH})
        await eventually(lambda: _upstream_subscribers(gw0, TICKER) == 0, 10, "the ticker unsubscribed upstream")
        assert _upstream_subscribers(gw0, BOOK) == 1
    finally:
        for c in clients:
            with contextlib.suppress(Exception):
                await c.close()
    await eventually(lambda: _upstream_subscribers(replicas[0], BOOK) == 0, 10, "the book unsubscribed upstream")
    assert all(_bus(g).topic_count == 0 for g in replicas)


async def test_a_late_book_client_on_any_replica_starts_from_a_snapshot(replicas: list[Gateway]) -> None:
    first = await _watch(replicas[0], BOOK)
    try:
        await first.until(lambda m: m.get("path") == BOOK_PATH and m["data"]["type"] == "delta", what="deltas")
        late = [await _watch(gw, BOOK) for gw in replicas]
        for c in late:
            await c.until(lambda m, c=c: m.get("path") == BOOK_PATH and m["data"]["type"] == "delta"
                          and len(book_events(c)) > 3, what="the book flowing to a late client")
            assert_books_unbroken(c)
        assert_books_unbroken(first)
        # a snapshot the leader rebuilt is the book exactly as the exchange's frames made it at that u
        snap = book_events(late[1])[0]["data"]
        await first.until(lambda m: m.get("path") == BOOK_PATH and m["data"]["data"]["u"] >= snap["u"],
                          what="the first client to reach the late client's u")
        assert (snap["b"], snap["a"]) == book_at(book_events(first), snap["u"])
        for c in late:
            await c.close()
    finally:
        await first.close()


async def test_leader_failover_keeps_client_subscriptions(replicas: list[Gateway]) -> None:
    leader = _leader(replicas)
    survivors = [g for g in replicas if g is not leader]
    clients = [await _watch(gw, BOOK, TICKER) for gw in survivors]
    gone = await _watch(leader, BOOK)
    try:
        for c in clients:
            await c.until(lambda m: m.get("path") == BOOK_PATH and m["data"]["type"] == "delta", what="deltas")
        # kill the leader: no lock release, no goodbye; its sockets close with it
        killed_at = time.monotonic()
        await _bus(leader).stop(release=False)
        await leader.close()
        await eventually(lambda: sum(_bus(g).leading for g in survivors) == 1, 10, "a new leader")
        took_over = time.monotonic() - killed_at
        assert took_over < scaled(_bus(survivors[0]).lock_ttl + 2.0)
        new = _leader(survivors)
        assert _bus(new).epoch > 0 and _bus(new).leaderships == 1
        marks = {id(c): len(c.seen) for c in clients}
        for c in clients:  # the same subscriptions keep flowing, books again from a snapshot
            await c.until(lambda m, c=c: len(c.seen) > marks[id(c)] and m.get("path") == BOOK_PATH
                          and m["data"]["type"] == "delta"
                          and any(e["type"] == "snapshot" for e in book_events(c)[1:]),
                          what="a fresh snapshot and deltas after fail-over", timeout=15)
            await c.until(lambda m: m.get("path") == TICKER_PATH, what="tickers after fail-over")
            assert assert_books_unbroken(c) >= 2
        await eventually(lambda: _upstream_subscribers(survivors[0], BOOK) == 1, 10, "one upstream book again")
        assert _upstream_subscribers(survivors[0], TICKER) == 1
    finally:
        for c in [*clients, gone]:
            with contextlib.suppress(Exception):
                await c.close()


async def test_private_streams_stay_on_their_replica_and_off_the_bus(replicas: list[Gateway], store: UserStore,
                                                                      redis_url: str) -> None:
    seen: list[tuple[str, bytes]] = []
    spy = aioredis.from_url(redis_url)
    pubsub = spy.pubsub()
    await pubsub.psubscribe("*")

    async def listen() -> None:
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if msg is not None:
                seen.append((msg["channel"].decode(), bytes(msg["data"])))

    listener = asyncio.create_task(listen())
    token = store.add("alice", ALICE_KEY, ALICE_SECRET)
    follower = next(g for g in replicas if not _bus(g).leading)
    alice = await open_client(follower)
    market = await _watch(replicas[0], TICKER)
    try:
        ack = await alice.request("authorization", {"accessToken": token, "fingerprint": "fp"})
        assert ack["type"] == "ack"
        ack = await alice.request("/external", {"direction": "private", "op": "subscribe",
                                                "args": ["order", "wallet"]})
        assert ack["type"] == "ack", ack
        hub = follower.hub
        assert hub is not None
        await eventually(lambda: hub.upstream("alice") is not None, what="alice's own client on her replica")
        private = hub.upstream("alice")
        assert private is not None
        await private.wait_subscribed(timeout=scaled(10))
        async with rb.Bybit(follower.simulator.url, api_key=ALICE_KEY, api_secret=ALICE_SECRET) as trader:
            await trader.trade.create_order(category="linear", symbol="BTCUSDT", side="Buy", order_type="Market",
                                            qty="0.01", order_link_id="alice-bus-1")
        await alice.until(lambda m: m.get("path") == "/external/private/order" and "alice-bus-1" in repr(m),
                          what="alice's order push")
        await market.until(lambda m: m.get("path") == TICKER_PATH, what="public frames on the bus")
        await eventually(lambda: any(":t:linear:" in ch for ch, _ in seen), 10, "the spy to see the bus")
        # every replica's private upstream is its own: nobody else opened one for alice
        assert all(g.hub is not None and g.hub.upstream("alice") is None for g in replicas if g is not follower)
    finally:
        await alice.close()
        await market.close()
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await pubsub.aclose()
        await spy.aclose()
    everything = b"\n".join(ch.encode() + b" " + data for ch, data in seen)
    for secret in (ALICE_KEY, ALICE_SECRET, token, "alice-bus-1", "alice"):
        assert secret.encode() not in everything, f"{secret!r} went over the bus"
    assert not any(":private:" in ch for ch, _ in seen)
    assert b'"topic":"order"' not in everything and b'"topic":"wallet"' not in everything


async def test_a_restarted_redis_loses_nothing_for_clients(redis_url: str, store: UserStore) -> None:
    """Redis goes away and comes back empty on the same port: replicas re-assert their interest, a
    leader is elected again with a higher epoch, and clients carry on with unbroken books."""
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    gws = [Gateway("sim", verifier=StoreVerifier(store), symbols=TEST_SYMBOLS, sim_options=SIM_OPTIONS, bus=redis_url)
           for _ in range(2)]
    clients: list[Client] = []
    restarted = contextlib.ExitStack()
    try:
        for gw in gws:
            await gw.start()
        await eventually(lambda: sum(_bus(g).leading for g in gws) == 1, 10, "one leader")
        epoch = _bus(_leader(gws)).epoch
        clients = [await _watch(gw, BOOK) for gw in gws]
        for c in clients:
            await c.until(lambda m: m.get("path") == BOOK_PATH and m["data"]["type"] == "delta", what="deltas")
        # the fixture's server stops here; a fresh, empty one takes its port
        crashed = RUNNING[port]
        crashed.kill()
        crashed.wait(scaled(10))
        restarted.enter_context(redis_server(port=port))
        await eventually(lambda: sum(_bus(g).leading for g in gws) == 1 and _bus(_leader(gws)).epoch > epoch, 20,
                         "a leader with a higher epoch")
        marks = [len(book_events(c)) for c in clients]  # from here on, only the new leader's frames count
        for c, mark in zip(clients, marks, strict=True):
            await c.until(lambda m, c=c, mark=mark: m.get("path") == BOOK_PATH and m["data"]["type"] == "delta"
                          and any(e["type"] == "snapshot" for e in book_events(c)[mark:]), timeout=20,
                          what="a snapshot from the new leader, then deltas")
            assert assert_books_unbroken(c) >= 2
        await eventually(lambda: _upstream_subscribers(gws[0], BOOK) == 1, 10, "one upstream subscription again")
    finally:
        for c in clients:
            with contextlib.suppress(Exception):
                await c.close()
        for gw in gws:
            with contextlib.suppress(Exception):
                await gw.close()
        restarted.close()



async def test_an_unreachable_bus_is_a_clear_error_and_leaves_nothing_open(store: UserStore) -> None:
    from redis_server import free_port

    gw = Gateway("sim", verifier=StoreVerifier(store), symbols=TEST_SYMBOLS, sim_options=SIM_OPTIONS,
                 bus=f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(ConnectionError, match=r"cannot reach the gateway bus at redis://127\.0\.0\.1:"):
        await gw.start()
    assert gw.hub is None and gw.bus is not None and gw.bus.topic_count == 0
