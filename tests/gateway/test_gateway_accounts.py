"""Who a connection is, over time: re-added users, changed and wrong keys, revoked and expired tokens,
refused authorizations that change nothing, and guessing from one address."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from helpers import eventually, scaled

from rxbybit.gateway import ErrorCode, Gateway, JWTVerifier, Limits, UserStore

from .conftest import ALICE_KEY, ALICE_SECRET, BOB_KEY, BOB_SECRET, Client, make_gateway, open_client
from .test_gateway_private import ORDER, _login, _market_buy

JWT_SECRET = "a-shared-secret-of-at-least-32-bytes-0123456789"


async def _closed_by_gateway(gateway: Gateway, c: Client, reason: str) -> None:
    """The gateway ended ``c``'s session with close code 1008 and ``reason``."""
    code = await c.closed_by_gateway(scaled(5))
    assert code == 1008 and c.ws.close_reason == reason, (code, c.ws.close_reason)


async def test_a_re_added_user_never_inherits_the_old_accounts_data(gateway: Gateway, store: UserStore) -> None:
    old_token = store.add("alice", ALICE_KEY, ALICE_SECRET)
    old = await _login(gateway, old_token)
    assert (await old.request("/external", {"direction": "private", "op": "subscribe", "args": ["order"]}))["type"] \
        == "ack"
    # the operator replaces alice while her old connection is still open
    assert store.remove("alice")
    new_token = store.add("alice", BOB_KEY, BOB_SECRET)
    new = await _login(gateway, new_token, "fp-new")
    try:
        assert (await new.request("/external", {"direction": "private", "op": "subscribe", "args": ["order"]}))[
            "type"] == "ack"
        assert gateway.hub is not None
        await eventually(lambda: len(gateway.hub.accounts("alice")) == 2, what="a second account for the new keys")
        for account in gateway.hub.accounts("alice"):
            assert account.client is not None
            await account.client.wait_subscribed(timeout=scaled(10))
        await _market_buy(gateway, ALICE_KEY, ALICE_SECRET, "old-alice-1")
        await old.find(lambda m: m["path"] == ORDER and "old-alice-1" in repr(m), what="the old account's order")
        await _market_buy(gateway, BOB_KEY, BOB_SECRET, "new-alice-1")
        await new.find(lambda m: m["path"] == ORDER and "new-alice-1" in repr(m), what="the new account's order")
        await new.round_trip()
        assert not any("old-alice-1" in repr(m) for m in new.seen), "the new alice saw the old account's order"
        # the old session ends at the next re-check: its token was removed
        assert await gateway.recheck_sessions() == 1
        await _closed_by_gateway(gateway, old, "authorization revoked")
        assert [a.identity.credentials and a.identity.credentials.api_key
                for a in gateway.hub.accounts("alice")] == [BOB_KEY]
    finally:
        await new.close()
        await old.close()


async def test_changed_keys_move_live_private_subscriptions_to_the_new_keys(gateway: Gateway,
                                                                           store: UserStore) -> None:
    token = store.add("alice", ALICE_KEY, ALICE_SECRET)
    c = await _login(gateway, token)
    try:
        assert (await c.request("/external", {"direction": "private", "op": "subscribe", "args": ["order"]}))[
            "type"] == "ack"
        store.set_keys("alice", BOB_KEY, BOB_SECRET)
        assert await gateway.recheck_sessions() == 0, "a key change does not end the session"
        assert gateway.hub is not None
        [account] = gateway.hub.accounts("alice")
        assert account.identity.credentials is not None and account.identity.credentials.api_key == BOB_KEY
        assert account.client is not None
        await account.client.wait_subscribed(timeout=scaled(10))
        await _market_buy(gateway, BOB_KEY, BOB_SECRET, "moved-1")
        await c.find(lambda m: m["path"] == ORDER and "moved-1" in repr(m), what="an order on the new keys")
    finally:
        await c.close()


async def test_wrong_keys_are_reported_on_every_request_until_they_are_fixed(gateway: Gateway,
                                                                            store: UserStore) -> None:
    token = store.add("alice", ALICE_KEY, "not-alices-secret-at-all")
    c = await _login(gateway, token)
    try:
        assert (await c.request("/external", {"direction": "private", "op": "subscribe", "args": ["order"]}))[
            "type"] == "ack"
        failed = await c.until(lambda m: m["type"] == "error" and m["path"] == ORDER, what="the login failure")
        assert failed["code"] == ErrorCode.UPSTREAM_ERROR and "authentication" in failed["message"].lower()
        # every later private request says so at once, instead of an ack that never brings data
        later = await c.request("/external", {"op": "subscribe", "args": ["wallet"]})
        assert later["code"] == ErrorCode.UPSTREAM_ERROR and "refused the API keys" in later["message"], later
        profile = await c.request("/user/profile")
        assert profile["code"] == ErrorCode.UPSTREAM_ERROR and "set-keys" in profile["message"], profile
        notes = await c.request("/user/notifications")
        assert notes["code"] == ErrorCode.UPSTREAM_ERROR and "refused the API keys" in notes["message"], notes
        # the operator fixes the keys: the next request logs in again, and works
        store.set_keys("alice", ALICE_KEY, ALICE_SECRET)
        again = await c.request("/external", {"op": "subscribe", "args": ["order"]})
        assert again["type"] == "ack", again
        assert gateway.hub is not None
        client = gateway.hub.upstream("alice")
        assert client is not None
        await client.wait_subscribed(timeout=scaled(10))
        await _market_buy(gateway, ALICE_KEY, ALICE_SECRET, "fixed-1")
        await c.find(lambda m: m["path"] == ORDER and "fixed-1" in repr(m), what="an order once the keys are fixed")
    finally:
        await c.close()


async def test_removed_and_rotated_users_lose_live_sessions(gateway: Gateway, store: UserStore) -> None:
    alice = await _login(gateway, store.add("alice", ALICE_KEY, ALICE_SECRET))
    bob = await _login(gateway, store.add("bob"), "fp-bob")
    try:
        store.rotate("alice")
        # the next private request is checked at once, without waiting for the sweep
        refused = await alice.request("/user/notifications")
        assert refused["code"] == ErrorCode.UNAUTHORIZED and "revoked" in refused["message"]
        await _closed_by_gateway(gateway, alice, "authorization revoked")
        assert (await bob.request("/user/notifications"))["type"] == "ack"
        store.remove("bob")
        assert await gateway.recheck_sessions() == 1, "the sweep ends a removed user's idle session"
        await _closed_by_gateway(gateway, bob, "authorization revoked")
        assert gateway.hub is not None and gateway.hub.users_online() == ()
    finally:
        await alice.close()
        await bob.close()


async def test_the_periodic_sweep_ends_revoked_sessions(store: UserStore) -> None:
    async with make_gateway(store, recheck_interval=0.2) as gw:
        c = await _login(gw, store.add("carol"))
        try:
            store.remove("carol")
            await _closed_by_gateway(gw, c, "authorization revoked")
        finally:
            await c.close()


async def test_an_expired_jwt_gets_no_new_private_requests(store: UserStore) -> None:
    store.add("alice", ALICE_KEY, ALICE_SECRET)
    verifier = JWTVerifier(JWT_SECRET, credentials=store.credentials)
    expires = int(time.time()) + 2
    token = jwt.encode({"sub": "alice", "exp": expires, "fpt": "fp"}, JWT_SECRET, algorithm="HS256")
    async with make_gateway(store, verifier=verifier) as gw:
        c = await _login(gw, token)
        try:
            assert (await c.request("/user/notifications"))["type"] == "ack"
            await eventually(lambda: time.time() > expires + 1, timeout=6, what="the token to expire")
            refused = await c.request("/user/profile")
            assert refused["code"] == ErrorCode.UNAUTHORIZED, refused
            await _closed_by_gateway(gw, c, "authorization revoked")
        finally:
            await c.close()


def test_jwt_refuses_short_hmac_secrets() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        JWTVerifier("short-secret")
    JWTVerifier(JWT_SECRET)  # long enough


async def test_a_refused_authorization_binds_nothing(gateway: Gateway, store: UserStore) -> None:
    alice = await _login(gateway, store.add("alice"), "alice-device")
    bob_token = store.add("bob")
    try:
        refused = await alice.request("authorization", {"accessToken": bob_token, "fingerprint": "alice-device"})
        assert refused["code"] == ErrorCode.ALREADY_AUTHORIZED
        [bob_info] = [u for u in store.list() if u.name == "bob"]
        assert not bob_info.fingerprint_bound, "a refused request bound bob's token to alice's device"
        bob = await _login(gateway, bob_token, "bob-device")
        await bob.close()
        same = await alice.request("authorization", {"accessToken": "x" * 40, "fingerprint": "alice-device"})
        assert same["code"] == ErrorCode.ALREADY_AUTHORIZED
    finally:
        await alice.close()


async def test_a_failed_external_request_keeps_the_direction(client: Client) -> None:
    assert (await client.request("/external", {"direction": "linear"}))["data"] == {"direction": "linear"}
    bad = await client.request("/external", {"direction": "spot", "op": "subscribe", "args": ["nope.nope"]})
    assert bad["code"] == ErrorCode.BAD_TOPIC
    private = await client.request("/external", {"direction": "private", "op": "subscribe", "args": ["order"]})
    assert private["code"] == ErrorCode.UNAUTHORIZED
    ping = await client.request("/external", {"op": "ping"})
    assert ping["data"]["direction"] == "linear", "a refused request changed the direction"


async def test_authorization_is_rate_limited_per_address_and_answers_alike(store: UserStore, tmp_path: Path) -> None:
    valid = store.add("dave", fingerprint="dave-device")
    limits = Limits(auth_rate=0.01, auth_burst=4, max_auth_failures=100)
    async with make_gateway(store, limits=limits) as gw:
        answers = []
        clients = [await open_client(gw) for _ in range(3)]
        try:
            # guessing spread over connections from one address: the fifth attempt is refused for rate
            for i, token in enumerate(["guess-1", valid, "guess-2", "guess-3", "guess-4"]):
                answers.append(await clients[i % 3].request("authorization",
                                                            {"accessToken": token, "fingerprint": "attacker"}))
        finally:
            for c in clients:
                await c.close()
        assert [a["code"] for a in answers] == [ErrorCode.AUTH_FAILED] * 4 + [ErrorCode.RATE_LIMITED]
        assert len({a["message"] for a in answers[:4]}) == 1, "a valid token bound elsewhere answers as a guess does"
        assert "authorization attempts from this address" in answers[4]["message"]


async def test_jwt_sessions_follow_changed_keys_too(store: UserStore) -> None:
    """In JWT mode the keys come from a lookup by user: a change there moves the live session as well."""
    store.add("alice", ALICE_KEY, ALICE_SECRET)
    verifier = JWTVerifier(JWT_SECRET, credentials=store.credentials)
    token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 600, "fpt": "fp"}, JWT_SECRET, algorithm="HS256")
    async with make_gateway(store, verifier=verifier) as gw:
        c = await _login(gw, token)
        try:
            assert (await c.request("/user/notifications"))["type"] == "ack"
            assert gw.hub is not None
            [before] = gw.hub.accounts("alice")
            store.set_keys("alice", BOB_KEY, BOB_SECRET)
            assert await gw.recheck_sessions() == 0
            [after] = gw.hub.accounts("alice")
            assert after is not before and after.identity.credentials is not None
            assert after.identity.credentials.api_key == BOB_KEY
            assert after.notifications.sinks, "the notification subscription moved to the new account"
        finally:
            await c.close()


def test_the_cli_can_require_a_fingerprint_claim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from rxbybit.gateway.cli import _verifier, add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    monkeypatch.setenv("RXBYBIT_TEST_JWT", JWT_SECRET)
    args = parser.parse_args(["--db", str(tmp_path / "u.db"), "--jwt-secret-env", "RXBYBIT_TEST_JWT",
                              "--jwt-require-fingerprint"])
    verifier = _verifier(args)
    assert isinstance(verifier, JWTVerifier) and verifier.require_fingerprint
    monkeypatch.setenv("RXBYBIT_TEST_JWT", "short")
    with pytest.raises(ValueError, match="at least 32"):
        _verifier(args)
