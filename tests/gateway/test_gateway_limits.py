"""Every per-connection resource has a limit: outbound bytes, echoed ids, nesting, new topics,
connections per address and in total; and the edge checks (Origin, Host, framing)."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from typing import Any

import pytest
from helpers import eventually, scaled
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from rxbybit.gateway import ErrorCode, Gateway, Limits, UserStore
from rxbybit.gateway.envelopes import event
from rxbybit.gateway.session import POLICY_VIOLATION, Session

from .conftest import Client, make_gateway, open_client, upstream_subscribed
from .fakes import FakeHub, FakeVerifier, Outbox
from .test_gateway_session import Clock

EVENT = event("/symbols", {"pad": "x" * 1_000})


def _session(limits: Limits) -> tuple[Session, Outbox, Clock]:
    clock, out = Clock(), Outbox()
    session = Session(FakeHub(), out, FakeVerifier(), limits, clock=clock)  # type: ignore[arg-type]
    return session, out, clock


async def test_a_client_that_never_reads_is_disconnected_at_the_hard_cap() -> None:
    limits = Limits(max_buffered_bytes=10_000, max_unsent_bytes=50_000, slow_client_timeout=1_000.0, rate=1e9,
                    burst=1e9)
    session, out, _ = _session(limits)
    out.reading = False
    ping = json.dumps({"path": "/external", "payload": {"direction": "spot", "op": "ping", "req_id": "r" * 64}})
    sent = 0
    while not session.closed and sent < 10_000:  # replies alone, no events: they are capped too
        await session.receive(ping)
        sent += 1
    assert out.closed is not None and out.closed[0] == POLICY_VIOLATION and "not reading" in out.closed[1]
    assert out.unread <= limits.max_unsent_bytes, "nothing is written past the cap"
    assert sent < 1_000


async def test_a_client_over_the_soft_cap_too_long_is_disconnected_and_events_are_dropped_meanwhile() -> None:
    limits = Limits(max_buffered_bytes=10_000, max_unsent_bytes=10**9, slow_client_timeout=5.0)
    session, out, clock = _session(limits)
    out.reading = False
    while out.unread <= limits.max_buffered_bytes:
        session.deliver(EVENT)
    written = len(out.frames)
    for _ in range(100):
        session.deliver(EVENT)
    assert len(out.frames) == written and session.dropped == 100, "over the soft cap, events are dropped"
    clock.now += 4.0
    session.check_slow()
    assert not session.closed, "within the timeout the client may still catch up"
    clock.now += 2.0
    session.check_slow()
    assert out.closed is not None and "too slowly" in out.closed[1] and session.closed


async def test_a_client_that_catches_up_is_told_what_it_missed() -> None:
    session, out, clock = _session(Limits(max_buffered_bytes=10_000, slow_client_timeout=5.0))
    out.reading = False
    while out.unread <= 10_000:
        session.deliver(EVENT)
    session.deliver(EVENT)
    clock.now += 4.0
    out.unread = 0  # it read everything
    session.deliver(EVENT)
    assert out.frames[-2]["code"] == ErrorCode.LAGGING and "1 events were dropped" in out.frames[-2]["message"]
    clock.now += 10.0
    session.check_slow()
    assert not session.closed


async def test_new_topics_per_connection_are_rate_limited() -> None:
    session, out, clock = _session(Limits(topic_rate=1.0, topic_burst=3.0, rate=1e9, burst=1e9))

    async def subscribe(*args: str) -> dict[str, Any]:
        await session.receive(json.dumps({"path": "/external", "payload": {"direction": "linear", "op": "subscribe",
                                                                          "args": list(args)}}))
        return out.frames[-1]

    assert (await subscribe("tickers.BTCUSDT", "tickers.ETHUSDT"))["type"] == "ack"
    refused = await subscribe("publicTrade.BTCUSDT", "publicTrade.ETHUSDT")
    assert refused["code"] == ErrorCode.RATE_LIMITED and "nothing was subscribed" in refused["message"]
    assert set(session.subscriptions) == {"/external/linear/tickers.BTCUSDT", "/external/linear/tickers.ETHUSDT"}
    assert (await subscribe("tickers.BTCUSDT"))["type"] == "ack", "a topic already held costs nothing"
    assert (await subscribe("publicTrade.BTCUSDT"))["type"] == "ack", "the last token of the burst"
    # a subscribe/unsubscribe storm on one topic is a stream of new topics
    await session.receive(json.dumps({"path": "/unsubscribe", "payload": {"path": "/external/linear/tickers.BTCUSDT"}}))
    assert (await subscribe("tickers.BTCUSDT"))["code"] == ErrorCode.RATE_LIMITED
    clock.now += 1.0
    assert (await subscribe("tickers.BTCUSDT"))["type"] == "ack", "one more a second"


@pytest.mark.parametrize("req_id", ["r" * 65, 7, {"a": 1}, ["x"], ""])
def test_echoed_req_ids_are_bounded_strings(req_id: Any) -> None:
    from rxbybit.gateway import GatewayError, parse_request

    with pytest.raises(GatewayError) as caught:
        parse_request(json.dumps({"path": "/external", "id": 3, "payload": {"op": "ping", "req_id": req_id}}), 16_384)
    assert caught.value.code == ErrorCode.BAD_PAYLOAD and "req_id must be a string of 1 to 64" in caught.value.message
    assert caught.value.request_id == 3


async def test_deeply_nested_ids_get_a_clear_error_and_no_traceback(client: Client,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    await client.request("/external", {"direction": "spot"})
    nested: Any = "x"
    for _ in range(253):
        nested = [nested]
    with caplog.at_level(logging.WARNING, logger="rxbybit.gateway"):
        deep = await client.request("/external", {"op": "ping", "req_id": nested})
        shallow = await client.request("/external", {"op": "ping", "req_id": [["x"]]})
        long_id = await client.request("/external", {"op": "ping", "req_id": "r" * 10_000})
    assert deep["code"] == ErrorCode.BAD_REQUEST and "more than 32 levels deep" in deep["message"], deep
    assert shallow["code"] == long_id["code"] == ErrorCode.BAD_PAYLOAD
    assert len(long_id["message"]) < 200, "the reply does not echo the long id"
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    ok = await client.request("/external", {"op": "ping", "req_id": "r" * 64})
    assert ok["data"]["req_id"] == "r" * 64


async def test_connections_are_limited_per_address_and_in_total(store: UserStore) -> None:
    async with make_gateway(store, limits=Limits(max_connections_per_address=3, max_connections=100)) as gw:
        clients = [await open_client(gw) for _ in range(3)]
        try:
            with pytest.raises(InvalidStatus) as caught:
                await connect(gw.url)
            assert caught.value.response.status_code == 429
            await clients.pop().close()
            await eventually(lambda: len(gw.sessions) == 2, what="the closed connection to leave")
            clients.append(await open_client(gw))  # room again
            assert gw.refused["address"] == 1
        finally:
            for c in clients:
                await c.close()
    async with make_gateway(store, limits=Limits(max_connections=2)) as gw:
        clients = [await open_client(gw) for _ in range(2)]
        try:
            with pytest.raises(InvalidStatus) as caught:
                await connect(gw.url)
            assert caught.value.response.status_code == 503
        finally:
            for c in clients:
                await c.close()


async def test_only_allowed_origins_and_hosts_reach_the_gateway(store: UserStore) -> None:
    async with make_gateway(store, allowed_origins=("https://app.example.com",)) as gw:
        for origin in (None, f"http://127.0.0.1:{gw.port}", "http://localhost:3000", "https://app.example.com"):
            headers = {} if origin is None else {"Origin": origin}
            ws = await connect(gw.url, additional_headers=headers)
            await ws.close()
        for origin in ("https://evil.example", "null", "http://127.0.0.1.evil.example"):
            with pytest.raises(InvalidStatus) as caught:
                await connect(gw.url, additional_headers={"Origin": origin})
            assert caught.value.response.status_code == 403, origin
        assert gw.refused["origin"] == 3
        # a page of another name resolving to loopback (DNS rebinding) is refused
        status, _ = await asyncio.to_thread(_get, gw.http_url, {"Host": f"evil.example:{gw.port}"})
        assert status == 421
        status, headers = await asyncio.to_thread(_get, gw.http_url, {})
        assert status == 200
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"] and headers["X-Frame-Options"] == "DENY"


def _get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=scaled(5)) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


async def test_the_seeds_unsubscribe_example_is_an_alias_of_spot_order_events(client: Client,
                                                                             store: UserStore) -> None:
    from .conftest import ALICE_KEY, ALICE_SECRET

    token = store.add("alice", ALICE_KEY, ALICE_SECRET)
    assert (await client.request("authorization", {"accessToken": token, "fingerprint": "fp"}))["type"] == "ack"
    missing = await client.request("/unsubscribe", {"path": "/spot/order_events"})
    assert missing["code"] == ErrorCode.NOT_SUBSCRIBED and "/external/private/order.spot" in missing["message"]
    ack = await client.request("/external", {"direction": "private", "op": "subscribe", "args": ["order.spot"]})
    assert ack["type"] == "ack"
    gone = await client.request("/unsubscribe", {"path": "/spot/order_events"})
    assert gone["data"] == {"unsubscribed": "/external/private/order.spot"}


async def test_subscribers_hear_when_the_upstream_drops_and_comes_back(gateway: Gateway, client: Client) -> None:
    path = "/external/linear/tickers.BTCUSDT"
    ack = await client.request("/external", {"direction": "linear", "op": "subscribe", "args": ["tickers.BTCUSDT"]})
    assert ack["type"] == "ack"
    await upstream_subscribed(gateway)
    await client.find(lambda m: m["type"] == "event" and m["path"] == path, what="a first ticker event")
    await gateway.simulator.restart(downtime=0.3)
    down = await client.until(lambda m: m["type"] == "status", what="the upstream-down status")
    assert down["path"] == path and down["data"]["upstream"] == "down"
    up = await client.until(lambda m: m["type"] == "status", timeout=15, what="the upstream-up status")
    assert up["path"] == path and up["data"] == {"upstream": "up"}
    await client.until(lambda m: m["type"] == "event" and m["path"] == path, what="events again")


async def test_a_new_listing_is_accepted_once_the_instrument_list_is_read_again(gateway: Gateway,
                                                                                client: Client) -> None:
    refused = await client.request("/external", {"direction": "linear", "op": "subscribe", "args": ["tickers.NEWUSDT"]})
    assert refused["code"] == ErrorCode.BAD_TOPIC
    universe = gateway.simulator.universe["linear"]
    universe["NEWUSDT"] = universe["BTCUSDT"]  # the exchange lists a new symbol
    try:
        await gateway.refresh_instruments()
        accepted = await client.request("/external", {"direction": "linear", "op": "subscribe",
                                                      "args": ["tickers.NEWUSDT"]})
        assert accepted["type"] == "ack", accepted
    finally:
        del universe["NEWUSDT"]
