"""What the gateway sends: acks, events and errors, and the error codes (sans-I/O).

Every frame the gateway sends is one JSON object with a ``type``:

- ``{"type": "ack", "path": P, "id": ID, "data": {...}}`` answers a request that succeeded;
- ``{"type": "event", "path": P, "data": ...}`` carries live data of the subscription ``P``;
- ``{"type": "error", "path": P, "id": ID, "code": N, "message": "..."}`` says what was wrong;
- ``{"type": "status", "path": P, "data": {"upstream": "down" | "up", ...}}`` says the exchange
  connection behind subscription ``P`` dropped, or is back (the subscription itself stays).

``id`` is echoed only when the request carried one. Event frames are built once per upstream
message and shared by every subscriber, so :func:`event_frame` splices already-serialised JSON
instead of parsing and re-encoding it (the websocket frame around it is built once too, by
``rxbybit.transport.ws_internals.text_frame``).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from ..protocol.json_codec import dumps


class ErrorCode(IntEnum):
    """Numeric codes of gateway error events (stable: clients may switch on them)."""

    NOT_JSON = 4000
    BAD_REQUEST = 4001
    MISSING_PAYLOAD = 4002
    BAD_DIRECTION = 4003
    UNKNOWN_PATH = 4004
    BAD_PAYLOAD = 4005
    BAD_TOPIC = 4006
    NOT_SUBSCRIBED = 4007
    UNSUPPORTED_OP = 4008
    NO_DIRECTION = 4009
    UNAUTHORIZED = 4010
    AUTH_FAILED = 4011
    ALREADY_AUTHORIZED = 4012
    NO_CREDENTIALS = 4013
    FRAME_TOO_LARGE = 4130
    TOO_MANY_SUBSCRIPTIONS = 4290
    RATE_LIMITED = 4291
    LAGGING = 4292
    INTERNAL = 5000
    UPSTREAM_REJECTED = 5020
    UPSTREAM_ERROR = 5030


RequestId = str | int | None


class GatewayError(Exception):
    """A request the gateway refuses: ``code`` and a ``message`` that says what to change."""

    def __init__(self, code: ErrorCode, message: str, path: str | None = None,
                 request_id: RequestId = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path
        self.request_id = request_id

    def frame(self) -> str:
        """This error as an ``error`` frame."""
        return error(self.code, self.message, self.path, self.request_id)


def ack(path: str, data: dict[str, Any] | None = None, request_id: RequestId = None) -> str:
    """An ``ack`` frame for the request on ``path``."""
    frame: dict[str, Any] = {"type": "ack", "path": path}
    if request_id is not None:
        frame["id"] = request_id
    frame["data"] = data or {}
    return dumps(frame)


def error(code: ErrorCode, message: str, path: str | None = None, request_id: RequestId = None) -> str:
    """An ``error`` frame; ``path`` is the request's (or subscription's) path when known."""
    frame: dict[str, Any] = {"type": "error", "path": path}
    if request_id is not None:
        frame["id"] = request_id
    frame["code"] = int(code)
    frame["message"] = message
    return dumps(frame)


def status(path: str, data: dict[str, Any]) -> bytes:
    """A ``status`` frame: the upstream of subscription ``path`` changed state (see ``data``)."""
    return dumps({"type": "status", "path": path, "data": data}).encode()


def event(path: str, data: Any) -> bytes:
    """An ``event`` frame carrying ``data`` (any JSON value) for the subscription ``path``."""
    return event_frame(path, dumps(data))


def event_frame(path: str, data_json: str | bytes) -> bytes:
    """An ``event`` frame around ``data_json``, text that is already one JSON value.

    Used for pass-through: Bybit's frame is wrapped as it arrived, without a parse/encode
    round trip. The result is UTF-8 JSON bytes, ready for a text frame.
    """
    head = b'{"type":"event","path":' + dumps(path).encode() + b',"data":'
    body = data_json.encode() if isinstance(data_json, str) else bytes(data_json)
    return head + body + b"}"
