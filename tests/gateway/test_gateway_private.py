"""Private streams, /user/profile and /user/notifications, and isolation between two users."""

from __future__ import annotations

from typing import Any

from helpers import eventually

import rxbybit as rb
from rxbybit.gateway import ErrorCode, Gateway, UserStore

from .conftest import ALICE_KEY, ALICE_SECRET, BOB_KEY, BOB_SECRET, Client, open_client, upstream_subscribed

ORDER = "/external/private/order"


async def _login(gateway: Gateway, token: str, fingerprint: str = "fp") -> Client:
    c = await open_client(gateway)
    ack = await c.request("authorization", {"accessToken": token, "fingerprint": fingerprint})
    assert ack["type"] == "ack", ack
    return c


async def _watch_everything(c: Client) -> None:
    ack = await c.request("/external", {"direction": "private", "op": "subscribe", "args": ["order", "execution"]})
    assert ack["data"]["subscribed"] == [ORDER, "/external/private/execution"], ack
    assert (await c.request("/user/profile"))["type"] == "ack"
    assert (await c.request("/user/notifications"))["type"] == "ack"


async def _market_buy(gateway: Gateway, key: str, secret: str, link: str) -> None:
    async with rb.Bybit(gateway.simulator.url, api_key=key, api_secret=secret) as trader:
        ack = await trader.trade.create_order(category="linear", symbol="BTCUSDT", side="Buy", order_type="Market",
                                              qty="0.01", order_link_id=link)
        assert ack is not None


async def _sees_own_trade(c: Client, link: str) -> None:
    """Wait for everything one market order of the client's user sends it: order, fill, notification, balance."""
    order = await c.find(lambda m: m["path"] == ORDER and _mentions([m], link), what=f"the order push of {link}")
    assert order["type"] == "event" and order["data"]["topic"] == "order"
    fill = await c.find(lambda m: m["path"] == "/external/private/execution" and _mentions([m], link),
                        what=f"the fill of {link}")
    assert fill["type"] == "event" and fill["data"]["data"][0]["orderLinkId"] == link
    note = await c.find(lambda m: m["path"] == "/user/notifications" and m["data"].get("kind") == "order"
                        and m["data"]["data"].get("orderLinkId") == link, what=f"the notification of {link}")
    assert "BTCUSDT" in note["data"]["message"]
    profile = await c.find(lambda m: m["type"] == "event" and m["path"] == "/user/profile", what="a balance event")
    assert float(profile["data"]["totalEquity"]) > 0 and profile["data"]["accountType"] == "UNIFIED"


def _mentions(frames: list[dict[str, Any]], text: str) -> bool:
    return any(text in repr(m) for m in frames)


def _private_conns(gateway: Gateway) -> int:
    return sum(1 for c in gateway.simulator.connections if c.endpoint == "private")


async def test_each_user_sees_only_their_own_private_data(gateway: Gateway, store: UserStore) -> None:
    alice = await _login(gateway, store.add("alice", ALICE_KEY, ALICE_SECRET))
    bob = await _login(gateway, store.add("bob", BOB_KEY, BOB_SECRET))
    try:
        await _watch_everything(alice)
        await _watch_everything(bob)
        await eventually(lambda: _private_conns(gateway) == 2, what="one private upstream per user")
        for user in ("alice", "bob"):
            await upstream_subscribed(gateway, user)
        await _market_buy(gateway, ALICE_KEY, ALICE_SECRET, "alice-order-1")
        await _sees_own_trade(alice, "alice-order-1")
        # the gateway fans a push out to all its sinks at once: anything of alice's that went to bob
        # was written before alice read it, so it is in bob.seen after one round trip
        await bob.round_trip()
        assert not _mentions(bob.seen, "alice-order-1")
        assert not bob.events(ORDER) and not bob.events("/user/notifications")
        assert len(bob.events("/user/profile")) <= 1, "bob's own balance on subscribe, nothing of alice's trade"

        await _market_buy(gateway, BOB_KEY, BOB_SECRET, "bob-order-1")
        await _sees_own_trade(bob, "bob-order-1")
        await alice.round_trip()
        assert not _mentions(alice.seen, "bob-order-1")
    finally:
        await alice.close()
        await bob.close()


async def test_a_users_connections_share_one_upstream_that_closes_with_the_last(gateway: Gateway,
                                                                                store: UserStore) -> None:
    token = store.add("alice", ALICE_KEY, ALICE_SECRET)
    first, second = await _login(gateway, token), await _login(gateway, token)
    try:
        for c in (first, second):
            await c.request("/external", {"direction": "private", "op": "subscribe", "args": ["order"]})
        await eventually(lambda: _private_conns(gateway) == 1, what="alice's private upstream")
        await upstream_subscribed(gateway, "alice")
        await _market_buy(gateway, ALICE_KEY, ALICE_SECRET, "shared-1")
        for c in (first, second):
            await c.until(lambda m: m["path"] == ORDER and _mentions([m], "shared-1"), what="the order on both")
        assert _private_conns(gateway) == 1
        hub = gateway.hub
        assert hub is not None and hub.users_online() == ("alice",)
        upstream = hub.upstream("alice")
        await first.close()
        await eventually(lambda: len(gateway.sessions) == 1, what="the gateway to release the first connection")
        # the second connection still needs alice's client: the same one goes on serving it
        await _market_buy(gateway, ALICE_KEY, ALICE_SECRET, "shared-2")
        await second.until(lambda m: m["path"] == ORDER and _mentions([m], "shared-2"), what="the order after")
        assert hub.upstream("alice") is upstream and _private_conns(gateway) == 1
        assert hub.users_online() == ("alice",)
    finally:
        await second.close()
    await eventually(lambda: _private_conns(gateway) == 0, what="alice's private upstream to close")
    assert gateway.hub is not None and gateway.hub.users_online() == ()


async def test_gateway_notifications_reach_only_their_user(gateway: Gateway, store: UserStore) -> None:
    alice = await _login(gateway, store.add("alice", ALICE_KEY, ALICE_SECRET))
    carol = await _login(gateway, store.add("carol"))
    try:
        for c in (alice, carol):
            assert (await c.request("/user/notifications"))["type"] == "ack"
        assert gateway.notify("carol", "Maintenance", "the gateway restarts at 18:00 UTC", "warning")
        note = await carol.until(lambda m: m["path"] == "/user/notifications", what="carol's notification")
        assert note["data"]["title"] == "Maintenance" and note["data"]["level"] == "warning"
        await alice.round_trip()  # notify() wrote to every sink before it returned
        assert not alice.events("/user/notifications")
        assert not gateway.notify("nobody", "x", "y")
        profile = await carol.request("/user/profile")
        assert profile["code"] == ErrorCode.NO_CREDENTIALS and "carol" in profile["message"]
        private = await carol.request("/external", {"direction": "private"})
        assert private["code"] == ErrorCode.NO_CREDENTIALS
        other = await carol.request("authorization", {"accessToken": store.rotate("alice"), "fingerprint": "fp"})
        assert other["code"] == ErrorCode.ALREADY_AUTHORIZED
    finally:
        await alice.close()
        await carol.close()


async def test_bad_bybit_keys_give_an_error_event_not_a_crash(gateway: Gateway, store: UserStore) -> None:
    mallory = await _login(gateway, store.add("mallory", "SIMunknownKEY", "SIMunknownSECRETzzzzzzzzzzzzzzzz"))
    try:
        ack = await mallory.request("/external", {"direction": "private", "op": "subscribe", "args": ["wallet"]})
        assert ack["type"] == "ack"
        err = await mallory.until(lambda m: m["type"] == "error" and m["path"] == "/external/private/wallet",
                                  timeout=15, what="the upstream auth failure")
        assert err["code"] in (ErrorCode.UPSTREAM_ERROR, ErrorCode.UPSTREAM_REJECTED)
        assert "SIMunknownSECRET" not in err["message"]
        assert (await mallory.request("/symbols"))["type"] == "ack", "the connection goes on"
    finally:
        await mallory.close()
