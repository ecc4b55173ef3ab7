"""What clients send: ``{"path": ..., "payload": ..., "id": ...}`` parsed and validated (sans-I/O).

:func:`parse_request` turns one websocket message into a :class:`Request` or raises
:class:`~rxbybit.gateway.envelopes.GatewayError` naming what was wrong. It never raises anything
else, whatever the input (the property tests feed it arbitrary bytes and JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from ..protocol.endpoints import CATEGORIES, Endpoint
from ..protocol.json_codec import JSONDecodeError, loads
from .codec import INT_MAX, INT_MIN, Location, describe, wide_integers
from .envelopes import ErrorCode, GatewayError, RequestId

AUTHORIZATION: Final = "/authorization"
EXTERNAL: Final = "/external"
SYMBOLS: Final = "/symbols"
UNSUBSCRIBE: Final = "/unsubscribe"
NOTIFICATIONS: Final = "/user/notifications"
PROFILE: Final = "/user/profile"

PATHS: Final[tuple[str, ...]] = (AUTHORIZATION, EXTERNAL, SYMBOLS, UNSUBSCRIBE, NOTIFICATIONS, PROFILE)
"""Every request path the gateway serves (``authorization`` without the slash is accepted too)."""

PRIVATE_PATHS: Final = frozenset((NOTIFICATIONS, PROFILE))
"""Paths that need an authorized connection."""

DIRECTIONS: Final[tuple[Endpoint, ...]] = (*CATEGORIES, "private")
"""The Bybit sockets ``/external`` reaches: the public categories and the private stream."""

EXTERNAL_OPS: Final[tuple[str, ...]] = ("subscribe", "unsubscribe", "ping")
MAX_FIELD_CHARS: Final = 512
"""Longest token, fingerprint, topic or path the gateway accepts."""
MAX_ID_CHARS: Final = 64
MAX_ID_INT: Final = 2**53
"""An integer ``id`` stays within what a browser's JSON numbers hold exactly."""
MAX_NESTING: Final = 32
"""Deepest nesting of arrays and objects a request may have, by default."""
REQ_ID_KEYS: Final = ("req_id", "reqId")

SEED_ALIASES: Final[dict[str, str]] = {
    f"/{category}/order_events": f"/external/private/order.{category}" for category in CATEGORIES
}
"""Seed 000's ``/unsubscribe`` example names ``/spot/order_events``, which no subscription here has:
it most plausibly means order events on the spot direction, i.e. Bybit's ``order.spot`` topic."""


def seed_alias(path: str) -> str | None:
    """The subscription path a seed-style path such as ``/spot/order_events`` stands for, or None."""
    return SEED_ALIASES.get(path)


@dataclass(frozen=True, slots=True)
class Request:
    """One validated request. ``path`` is canonical (leading slash); ``payload`` is an object."""

    path: str
    payload: dict[str, Any] = field(default_factory=dict)
    id: RequestId = None


def parse_request(message: str | bytes, max_bytes: int, max_nesting: int = MAX_NESTING) -> Request:
    """Parse and validate one client message (at most ``max_bytes`` long, ``max_nesting`` levels deep)."""
    size = len(message.encode("utf-8", "replace")) if isinstance(message, str) else len(message)
    if size > max_bytes:
        raise GatewayError(ErrorCode.FRAME_TOO_LARGE,
                           f"message of {size} bytes is larger than the {max_bytes}-byte limit")
    msg = _decode(message)
    if not isinstance(msg, dict):
        raise GatewayError(ErrorCode.BAD_REQUEST,
                           f'a request must be a JSON object {{"path": ..., "payload": ...}}, got {_kind(msg)}')
    wide = wide_integers(message)
    request_id = _request_id(msg, wide)
    if _too_deep(msg, max_nesting):
        raise GatewayError(ErrorCode.BAD_REQUEST, f"the request nests arrays and objects more than {max_nesting} "
                           "levels deep", None, request_id)
    raw_path = msg.get("path")
    if raw_path is None:
        raise _bad(ErrorCode.BAD_REQUEST, f"missing \"path\"; expected one of {', '.join(PATHS)}", None, request_id)
    if not isinstance(raw_path, str) or not raw_path or len(raw_path) > MAX_FIELD_CHARS:
        raise _bad(ErrorCode.BAD_REQUEST, f"path must be a non-empty string, got {_kind(raw_path)}", None, request_id)
    path = raw_path if raw_path.startswith("/") else "/" + raw_path
    if path not in PATHS:
        raise _bad(ErrorCode.UNKNOWN_PATH, f"unknown path {_short(raw_path)}; expected one of {', '.join(PATHS)}",
                   None, request_id)
    if wide:
        raise _wide_error(wide[0], path, request_id)
    payload = msg.get("payload")
    if payload is None:
        if path in (AUTHORIZATION, EXTERNAL, UNSUBSCRIBE):
            raise _bad(ErrorCode.MISSING_PAYLOAD, f"{path} needs a payload object: {_EXAMPLES[path]}",
                       path, request_id)
        payload = {}
    elif not isinstance(payload, dict):
        raise _bad(ErrorCode.BAD_PAYLOAD, f"payload must be a JSON object, got {_kind(payload)}", path, request_id)
    _validate(path, payload, request_id)
    return Request(path, payload, request_id)


def _too_deep(value: Any, limit: int) -> bool:
    """True if ``value`` nests containers more than ``limit`` levels (iterative: no recursion limit)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _decode(message: str | bytes) -> Any:
    """The JSON value of ``message``, or ``NOT_JSON`` (a number too large for any type: ``BAD_REQUEST``)."""
    try:
        return loads(message)
    except (JSONDecodeError, TypeError, ValueError) as exc:
        reason = str(exc)
    if "infinity" in reason:  # a number no double holds: name it rather than call the message not JSON
        wide = wide_integers(message)
        if wide:
            raise _wide_error(wide[0], None, None)
        raise GatewayError(ErrorCode.BAD_REQUEST, f"a number is too large for a JSON number here ({reason})")
    preview = message[:40] if isinstance(message, str) else bytes(message[:40]).decode("utf-8", "replace")
    raise GatewayError(ErrorCode.NOT_JSON,
                       f'message is not JSON ({preview!r}); send {{"path": ..., "payload": {{...}}}}')


def _request_id(msg: dict[str, Any], wide: list[tuple[Location, str]]) -> RequestId:
    """The request's ``id`` if it is a usable one, else a ``BAD_REQUEST`` error saying why."""
    request_id = msg.get("id")
    if request_id is None:
        return None
    for where, literal in wide:
        if where == ("id",):
            raise GatewayError(ErrorCode.BAD_REQUEST, f"{_wide_message(where, literal)};{_ID_RULE}")
    if isinstance(request_id, str) and len(request_id) <= MAX_ID_CHARS:
        return request_id
    if isinstance(request_id, int) and not isinstance(request_id, bool) and abs(request_id) <= MAX_ID_INT:
        return request_id
    raise GatewayError(ErrorCode.BAD_REQUEST, f"unusable id ({_short(request_id)});{_ID_RULE}")


_ID_RULE: Final = f" an id must be a string of at most {MAX_ID_CHARS} characters or an integer within ±2**53"


def _wide_error(wide: tuple[Location, str], path: str | None, request_id: RequestId) -> GatewayError:
    where, literal = wide
    code = ErrorCode.BAD_PAYLOAD if where[:1] == ("payload",) else ErrorCode.BAD_REQUEST
    return GatewayError(code, _wide_message(where, literal), path, request_id)


def _wide_message(where: Location, literal: str) -> str:
    shown = literal if len(literal) <= 30 else literal[:27] + "..."
    return (f"{describe(where)}: the integer {shown} is outside the 64-bit range the gateway carries exactly "
            f"({INT_MIN} .. {INT_MAX}); send it as a string")


_EXAMPLES: Final[dict[str, str]] = {
    AUTHORIZATION: '{"accessToken": "...", "fingerprint": "..."}',
    EXTERNAL: '{"direction": "spot"} or {"op": "subscribe", "args": ["tickers.BTCUSDT"]}',
    UNSUBSCRIBE: '{"path": "/external/spot/tickers.BTCUSDT"}',
}


def _validate(path: str, payload: dict[str, Any], request_id: RequestId) -> None:
    if path == AUTHORIZATION:
        for name in ("accessToken", "fingerprint"):
            value = payload.get(name)
            if not isinstance(value, str) or not value or len(value) > MAX_FIELD_CHARS:
                raise _bad(ErrorCode.BAD_PAYLOAD,
                           f"authorization needs {name!r}: a non-empty string of at most {MAX_FIELD_CHARS} "
                           f"characters ({_EXAMPLES[AUTHORIZATION]})", path, request_id)
    elif path == EXTERNAL:
        direction = payload.get("direction")
        op = payload.get("op")
        if direction is None and op is None:
            raise _bad(ErrorCode.BAD_PAYLOAD, f"/external needs a direction or an op: {_EXAMPLES[EXTERNAL]}",
                       path, request_id)
        if direction is not None and direction not in DIRECTIONS:
            raise _bad(ErrorCode.BAD_DIRECTION,
                       f"unknown direction {_short(direction)}; expected one of {', '.join(DIRECTIONS)}",
                       path, request_id)
        for key in REQ_ID_KEYS:
            rid = payload.get(key)
            if key in payload and not (isinstance(rid, str) and 0 < len(rid) <= MAX_ID_CHARS):
                raise _bad(ErrorCode.BAD_PAYLOAD, f"{key} must be a string of 1 to {MAX_ID_CHARS} characters, "
                           f"got {_short(rid)}", path, request_id)
        if op is not None:
            if op not in EXTERNAL_OPS:
                raise _bad(ErrorCode.UNSUPPORTED_OP,
                           f"op {_short(op)} is not served through the gateway; expected one of "
                           f"{', '.join(EXTERNAL_OPS)}", path, request_id)
            if op != "ping":
                args = payload.get("args")
                if not isinstance(args, list) or not args:
                    raise _bad(ErrorCode.BAD_PAYLOAD, f"{op} needs \"args\": a non-empty list of topic strings",
                               path, request_id)
                for arg in args:
                    if not isinstance(arg, str) or not arg or len(arg) > MAX_FIELD_CHARS:
                        raise _bad(ErrorCode.BAD_TOPIC, f"every arg must be a topic string, got {_short(arg)}",
                                   path, request_id)
    elif path == UNSUBSCRIBE:
        target = payload.get("path")
        if not isinstance(target, str) or not target or len(target) > MAX_FIELD_CHARS:
            raise _bad(ErrorCode.BAD_PAYLOAD, f"/unsubscribe needs the \"path\" of a subscription: "
                       f"{_EXAMPLES[UNSUBSCRIBE]}", path, request_id)


def _bad(code: ErrorCode, message: str, path: str | None, request_id: RequestId) -> GatewayError:
    return GatewayError(code, message, path, request_id)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else _kind(value)
    return text if len(text) <= 60 else text[:57] + "..."
