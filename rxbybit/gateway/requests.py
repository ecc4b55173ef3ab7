"""What clients send: ``{"path": ..., "payload": ..., "id": ...}`` parsed and validated (sans-I/O).

:func:`parse_request` turns one websocket message into a :class:`Request` or raises
:class:`~rxbybit.gateway.envelopes.GatewayError` naming what was wrong. It never raises anything
else, whatever the input (the property tests feed it arbitrary bytes and JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ..protocol._json import JSONDecodeError, loads
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

Direction = Literal["spot", "linear", "inverse", "option", "private"]
DIRECTIONS: Final[tuple[Direction, ...]] = ("spot", "linear", "inverse", "option", "private")

EXTERNAL_OPS: Final[tuple[str, ...]] = ("subscribe", "unsubscribe", "ping")
MAX_FIELD_CHARS: Final = 512
"""Longest token, fingerprint, topic or path the gateway accepts."""


@dataclass(frozen=True, slots=True)
class Request:
    """One validated request. ``path`` is canonical (leading slash); ``payload`` is an object."""

    path: str
    payload: dict[str, Any] = field(default_factory=dict)
    id: RequestId = None


def parse_request(message: str | bytes, max_bytes: int) -> Request:
    """Parse and validate one client message (at most ``max_bytes`` long)."""
    size = len(message.encode("utf-8", "replace")) if isinstance(message, str) else len(message)
    if size > max_bytes:
        raise GatewayError(ErrorCode.FRAME_TOO_LARGE,
                           f"message of {size} bytes is larger than the {max_bytes}-byte limit")
    try:
        msg = loads(message)
    except (JSONDecodeError, TypeError, ValueError):
        preview = message[:40] if isinstance(message, str) else bytes(message[:40]).decode("utf-8", "replace")
        raise GatewayError(ErrorCode.NOT_JSON,
                           f'message is not JSON ({preview!r}); send {{"path": ..., "payload": {{...}}}}') from None
    if not isinstance(msg, dict):
        raise GatewayError(ErrorCode.BAD_REQUEST,
                           f'a request must be a JSON object {{"path": ..., "payload": ...}}, got {_kind(msg)}')
    request_id = msg.get("id")
    if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, (str, int))
                                   or (isinstance(request_id, str) and len(request_id) > 64)
                                   or (isinstance(request_id, int) and abs(request_id) > 2**53)):
        raise GatewayError(ErrorCode.BAD_REQUEST, "id must be a string of at most 64 characters or an integer")
    raw_path = msg.get("path")
    if raw_path is None:
        raise _bad(ErrorCode.BAD_REQUEST, f"missing \"path\"; expected one of {', '.join(PATHS)}", None, request_id)
    if not isinstance(raw_path, str) or not raw_path or len(raw_path) > MAX_FIELD_CHARS:
        raise _bad(ErrorCode.BAD_REQUEST, f"path must be a non-empty string, got {_kind(raw_path)}", None, request_id)
    path = raw_path if raw_path.startswith("/") else "/" + raw_path
    if path not in PATHS:
        raise _bad(ErrorCode.UNKNOWN_PATH, f"unknown path {_short(raw_path)}; expected one of {', '.join(PATHS)}",
                   None, request_id)
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
