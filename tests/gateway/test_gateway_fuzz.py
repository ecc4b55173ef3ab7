"""Property tests of request handling: arbitrary input never escapes as an exception, every message
gets exactly one reply, and a session's subscriptions always match a naive model of the protocol."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxbybit.gateway import AuthError, ErrorCode, GatewayError, Identity, Limits, parse_request
from rxbybit.gateway.hub import Subscription
from rxbybit.gateway.requests import DIRECTIONS, PATHS
from rxbybit.gateway.session import Session
from rxbybit.protocol.signing import Credentials

MAX_BYTES = 2_048
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300), json_values.map(json.dumps)))
@settings(max_examples=300, deadline=None)
def test_parse_request_only_ever_raises_gateway_errors(message: str | bytes) -> None:
    try:
        req = parse_request(message, MAX_BYTES)
    except GatewayError as exc:
        assert isinstance(exc.code, ErrorCode) and exc.message
        return
    assert req.path in PATHS and isinstance(req.payload, dict)


@given(st.sampled_from(PATHS), st.dictionaries(st.text(max_size=8), json_values, max_size=3),
       st.one_of(st.none(), st.integers(0, 10**6), st.text(max_size=10)))
@settings(max_examples=200, deadline=None)
def test_parse_request_keeps_path_payload_and_id(path: str, payload: dict[str, Any], rid: int | str | None) -> None:
    frame = json.dumps({"path": path.lstrip("/"), "payload": payload, "id": rid})
    try:
        req = parse_request(frame, 10_000)
    except GatewayError as exc:
        assert exc.request_id == rid and exc.path in (path, None)
        assert exc.code not in (ErrorCode.NOT_JSON, ErrorCode.UNKNOWN_PATH)
        return
    assert (req.path, req.payload, req.id) == (path, payload, rid)


def test_oversize_and_non_object_requests() -> None:
    big = json.dumps({"path": "/symbols", "payload": {"x": "y" * 5_000}})
    for message, code in ((big, ErrorCode.FRAME_TOO_LARGE), ("[]", ErrorCode.BAD_REQUEST), ("", ErrorCode.NOT_JSON),
                          (b"\xff\xfe", ErrorCode.NOT_JSON), ('{"path": 5}', ErrorCode.BAD_REQUEST),
                          ('{"path": "/symbols", "id": true}', ErrorCode.BAD_REQUEST)):
        try:
            parse_request(message, MAX_BYTES)
        except GatewayError as exc:
            assert exc.code == code, (message[:20], exc.code)
        else:
            raise AssertionError(f"{message[:20]!r} was accepted")


# --------------------------------------------------------------------------- a session against a fake hub


class FakeHub:
    """Records what a session holds, so the test can compare it with the session's own view."""

    def __init__(self) -> None:
        self.active: set[str] = set()
        self.attached: list[str] = []
        self.detached: list[str] = []

    def _sub(self, path: str) -> Subscription:
        assert path not in self.active, f"{path} subscribed twice"
        self.active.add(path)
        return Subscription(lambda: self.active.discard(path))

    def external(self, endpoint: str, topic: str, identity: Identity | None, sink: Any) -> Subscription:
        assert (endpoint == "private") == (identity is not None)
        return self._sub(f"/external/{endpoint}/{topic}")

    def symbols(self, sink: Any) -> Subscription:
        return self._sub("/symbols")

    def profile(self, identity: Identity, sink: Any) -> Subscription:
        assert identity.credentials is not None
        return self._sub("/user/profile")

    def notifications(self, identity: Identity, sink: Any) -> Subscription:
        return self._sub("/user/notifications")

    def attach(self, identity: Identity) -> None:
        self.attached.append(identity.user)

    def detach(self, identity: Identity) -> None:
        self.detached.append(identity.user)


class FakeVerifier:
    async def verify(self, access_token: str, fingerprint: str) -> Identity:
        if not access_token.startswith("good-"):
            raise AuthError("unknown or revoked access token")
        user = access_token[5:]
        creds = None if user == "nokeys" else Credentials("k", "s")
        return Identity(user, creds)


class Outbox:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    def send(self, data: str | bytes) -> None:
        self.frames.append(json.loads(data))

    def buffered(self) -> int:
        return 0

    def send_wire(self, data: bytes, wire: bytes) -> None:
        self.send(data)

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


TOPICS = ["tickers.BTCUSDT", "orderbook.50.ETHUSDT", "publicTrade.BTC", "order", "wallet", "kline.1.BTCUSDT",
          "orderbook.7.BTCUSDT", "tickers.btcusdt", "", "x" * 10]
SUB_PATHS = ["/symbols", "/user/profile", "/user/notifications", "/external/linear/tickers.BTCUSDT",
             "/external/private/order", "/external/spot/orderbook.50.ETHUSDT", "/nope"]
payloads = st.one_of(
    st.fixed_dictionaries({"direction": st.sampled_from([*DIRECTIONS, "futures", 3, None])}),
    st.fixed_dictionaries({"op": st.sampled_from(["subscribe", "unsubscribe", "ping", "auth", 7]),
                           "args": st.one_of(st.lists(st.sampled_from(TOPICS), max_size=4), st.just("x"))}),
    st.fixed_dictionaries({"direction": st.sampled_from(DIRECTIONS), "op": st.just("subscribe"),
                           "args": st.lists(st.sampled_from(TOPICS[:6]), min_size=1, max_size=3)}),
    st.fixed_dictionaries({"accessToken": st.sampled_from(["good-alice", "good-bob", "good-nokeys", "bad", ""]),
                           "fingerprint": st.sampled_from(["fp", ""])}),
    st.fixed_dictionaries({"path": st.sampled_from(SUB_PATHS)}),
    json_values,
)
requests = st.one_of(
    st.builds(lambda p, pl, i: {"path": p, "payload": pl, "id": i},
              st.sampled_from([*PATHS, "authorization", "/x", ""]), payloads, st.integers(0, 1000)),
    st.builds(lambda p, i: {"path": p, "id": i}, st.sampled_from(PATHS), st.integers(0, 1000)),
    json_values,
).map(json.dumps) | st.text(max_size=40)

LIMITS = Limits(max_subscriptions=5, rate=1e9, burst=1e9, max_auth_failures=1000, max_message_bytes=MAX_BYTES)


@given(st.lists(requests, min_size=1, max_size=25))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_session_matches_a_naive_model(messages: list[str]) -> None:
    asyncio.run(_run_session(messages))


async def _run_session(messages: list[str]) -> None:
    hub, out = FakeHub(), Outbox()
    session = Session(hub, out, FakeVerifier(), LIMITS)  # type: ignore[arg-type]
    for message in messages:
        before = len(out.frames)
        await session.receive(message)
        replies = out.frames[before:]
        assert len(replies) == 1, f"{message!r} got {replies}"
        reply = replies[0]
        assert reply["type"] in ("ack", "error")
        if reply["type"] == "error":
            assert reply["code"] != ErrorCode.INTERNAL, reply
            assert reply["message"]
        try:
            sent = json.loads(message)
        except ValueError:
            sent = None
        if isinstance(sent, dict) and isinstance(sent.get("id"), int) and isinstance(sent.get("path"), str) \
                and sent["path"].lstrip("/") in {p.lstrip("/") for p in PATHS}:
            assert reply.get("id") == sent["id"]
        # the model: what the session holds is exactly what the hub delivers, within the limit
        assert set(session.subscriptions) == hub.active
        assert len(hub.active) <= LIMITS.max_subscriptions
        private = {p for p in hub.active if p.startswith(("/user/", "/external/private/"))}
        if session.identity is None:
            assert not private and not hub.attached
        else:
            assert hub.attached == [session.identity.user], "one attach, never a second user"
            if session.identity.credentials is None:
                assert not (private - {"/user/notifications"})
    session.release()
    assert hub.active == set()
    assert hub.detached == hub.attached
    assert out.closed is None
