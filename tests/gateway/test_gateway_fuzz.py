"""Property tests of request handling: arbitrary input never escapes as an exception, every message
gets exactly one reply, and a session's subscriptions always match a naive model of the protocol."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rxbybit.gateway import ErrorCode, GatewayError, Limits, parse_request
from rxbybit.gateway.requests import DIRECTIONS, PATHS
from rxbybit.gateway.session import Session

from .fakes import FakeHub, FakeVerifier, Outbox

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


def _has_wide_int(value: Any) -> bool:
    """True if ``value`` holds an integer a 64-bit JSON parser cannot keep exact."""
    if isinstance(value, dict):
        return any(_has_wide_int(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_wide_int(v) for v in value)
    return isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64


@given(st.sampled_from(PATHS), st.dictionaries(st.text(max_size=8), json_values, max_size=3),
       st.one_of(st.none(), st.integers(0, 10**6), st.text(max_size=10)))
@example(path="/symbols", payload={"": -(2**63) - 1}, rid=None)  # the case that once came back as a float
@example(path="/external", payload={"args": [1, 2**64]}, rid=7)
@example(path="/symbols", payload={"n": 2**64 - 1, "m": -(2**63)}, rid="edge")  # the widest that still fit
@settings(max_examples=200, deadline=None)
def test_parse_request_keeps_path_payload_and_id(path: str, payload: dict[str, Any], rid: int | str | None) -> None:
    frame = json.dumps({"path": path.lstrip("/"), "payload": payload, "id": rid})
    try:
        req = parse_request(frame, 10_000)
    except GatewayError as exc:
        assert exc.request_id == rid and exc.path in (path, None)
        assert exc.code not in (ErrorCode.NOT_JSON, ErrorCode.UNKNOWN_PATH)
        if _has_wide_int(payload):
            assert exc.code == ErrorCode.BAD_PAYLOAD and "64-bit" in exc.message, exc.message
        return
    assert not _has_wide_int(payload), "an integer beyond 64 bits must be refused, not turned into a float"
    assert (req.path, req.payload, req.id) == (path, payload, rid)


@pytest.mark.parametrize(("frame", "code", "where", "path", "rid"), [
    ('{"path": "/symbols", "payload": {"qty": 18446744073709551616}}', ErrorCode.BAD_PAYLOAD, "payload.qty: ",
     "/symbols", None),
    ('{"path": "/symbols", "id": 5, "payload": {"a": [[1, -9223372036854775809]]}}', ErrorCode.BAD_PAYLOAD,
     "payload.a[0][1]: ", "/symbols", 5),
    ('{"path": "symbols", "id": "x", "payload": {"a b": {"c": 1' + "0" * 40 + '}}}', ErrorCode.BAD_PAYLOAD,
     "payload['a b'].c: ", "/symbols", "x"),
    ('{"path": "/symbols", "id": 1, "extra": 18446744073709551616}', ErrorCode.BAD_REQUEST, "extra: ", "/symbols", 1),
    ('{"path": "/symbols", "id": 18446744073709551616}', ErrorCode.BAD_REQUEST, "id: ", None, None),
    # too large even for a double: orjson refuses the message, and the error still names the number
    ('{"path": "/symbols", "id": 1, "payload": {"n": [' + "9" * 5000 + "]}}", ErrorCode.BAD_PAYLOAD,
     "payload.n[0]: ", None, None),
])
def test_integers_beyond_64_bits_are_refused_naming_where(frame: str, code: ErrorCode, where: str, path: str | None,
                                                         rid: int | str | None) -> None:
    with pytest.raises(GatewayError) as caught:
        parse_request(frame, 10_000)
    exc = caught.value
    assert (exc.code, exc.path, exc.request_id) == (code, path, rid)
    assert exc.message.startswith(where) and "64-bit" in exc.message and "as a string" in exc.message, exc.message


def test_integers_within_64_bits_and_lookalikes_are_kept() -> None:
    """Floats, big-looking strings and keys, and the widest integers that fit all pass unchanged."""
    payload = {"max": 2**64 - 1, "min": -(2**63), "float": 1.8446744073709552e19, "text": "18446744073709551616",
               "18446744073709551616": [1e300, "\\\"", 2**53]}
    req = parse_request(json.dumps({"path": "/symbols", "payload": payload, "id": 2**53}), 10_000)
    assert req.payload == payload and isinstance(req.payload["max"], int) and req.id == 2**53
    deep = "[" * 1000 + "1" + "0" * 30 + "]" * 1000  # deeper than Python's recursion limit
    with pytest.raises(GatewayError) as caught:
        parse_request('{"path": "/symbols", "payload": {"d": ' + deep + "}}", 10_000, max_nesting=2_000)
    assert caught.value.message.startswith("payload.d[0]")


def test_oversize_and_non_object_requests() -> None:
    big = json.dumps({"path": "/symbols", "payload": {"x": "y" * 5_000}})
    for message, code in ((big, ErrorCode.FRAME_TOO_LARGE), ("[]", ErrorCode.BAD_REQUEST), ("", ErrorCode.NOT_JSON),
                          (b"\xff\xfe", ErrorCode.NOT_JSON), ('{"path": 5}', ErrorCode.BAD_REQUEST),
                          ('{"path": "/symbols", "id": true}', ErrorCode.BAD_REQUEST),
                          ('{"path": "/symbols", "id": 9007199254740993}', ErrorCode.BAD_REQUEST)):
        try:
            parse_request(message, MAX_BYTES)
        except GatewayError as exc:
            assert exc.code == code, (message[:20], exc.code)
        else:
            raise AssertionError(f"{message[:20]!r} was accepted")


# --------------------------------------------------------------------------- a session against a fake hub

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
