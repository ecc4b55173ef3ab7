"""Bybit's replies to client requests: the texts and frames each socket writes, and their parsers.

Acks, pongs and errors differ by endpoint (protocol reference §3-§5, §8, §9). The simulator writes
them with the builders here and the client reads them with the parsers here, so a reply text can
never drift on one side only. Every builder returns a dict in Bybit's key order (serialise it with
:func:`rxbybit.protocol._json.dumps`). ``req_id`` is echoed as the client sent it (string or
number); :data:`MISSING` means the client sent none.
"""

from __future__ import annotations

from typing import Any, Final

from .endpoints import Endpoint

# --------------------------------------------------------------------------- error texts
# Written by the simulator, parsed by the client: each text once.

_TOPIC_MARK = "topic:"
_INVALID_TOPIC_MARK = "Invalid topic:"
ALREADY_SUBSCRIBED = "already subscribed"
HANDLER_NOT_FOUND = "handler not found"
INVALID_OP = "error:invalid op"
NOT_AUTHORIZED = "Request not authorized"


def handler_not_found(topic: str) -> str:
    """``error:handler not found,topic:X``: an unknown symbol, depth or topic for that socket."""
    return f"error:{HANDLER_NOT_FOUND},topic:{topic}"


def already_subscribed(topic: str) -> str:
    """``error:already subscribed,topic:X``: informational, the existing subscription goes on."""
    return f"error:{ALREADY_SUBSCRIBED},topic:{topic}"


def args_too_long(budget: int, topic: str) -> str:
    """The connection's combined args would pass ``budget`` characters with ``topic``."""
    return f"error:args length exceeds {budget} characters,topic:{topic}"


def args_size(limit: int) -> str:
    """``args size >10``: too many args in one request (names no topic)."""
    return f"args size >{limit}"


def cannot_share_request(all_in_one: str, categorised: str) -> str:
    """An all-in-one private topic and one of its categorised topics in one request (text unconfirmed)."""
    return (f"error:all-in-one topic {all_in_one} and categorised topic {categorised} cannot be in one request,"
            f"topic:{categorised}")


def failed_topic(message: str) -> str | None:
    """The topic a failed subscribe reply names (``...,topic:X`` or ``Invalid topic:X``), if any."""
    i = message.find(_TOPIC_MARK)
    if i >= 0:
        return message[i + len(_TOPIC_MARK):].split(",", 1)[0].strip() or None
    i = message.find(_INVALID_TOPIC_MARK)
    if i >= 0:
        return message[i + len(_INVALID_TOPIC_MARK):].strip() or None
    return None


def is_already_subscribed(message: str) -> bool:
    """True for Bybit's ``already subscribed`` reply (not a real failure)."""
    return ALREADY_SUBSCRIBED in message


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""The client's request had no request id."""

ReqId = Any
"""A request id as the client sent it, or :data:`MISSING`."""


def _with_req_id(frame: dict[str, Any], req_id: ReqId, *, always: bool = False) -> dict[str, Any]:
    if req_id is not MISSING:
        frame["req_id"] = req_id
    elif always:
        frame["req_id"] = ""
    return frame


def pong(endpoint: Endpoint, conn_id: str, req_id: ReqId, now_ms: int) -> dict[str, Any]:
    """The reply to ``{"op": "ping"}`` on ``endpoint`` (a different shape on every socket)."""
    if endpoint == "spot":
        f: dict[str, Any] = {"success": True, "ret_msg": "pong", "conn_id": conn_id}
        _with_req_id(f, req_id)
        f["op"] = "ping"
        return f
    if endpoint in ("linear", "inverse"):
        f = {"success": True, "ret_msg": "pong", "conn_id": conn_id}
        _with_req_id(f, req_id, always=True)
        f["op"] = "ping"
        return f
    if endpoint == "option":
        return {"args": [str(now_ms)], "op": "pong"}
    if endpoint == "private":
        f = _with_req_id({}, req_id)
        f.update({"op": "pong", "args": [str(now_ms)], "conn_id": conn_id})
        return f
    if endpoint == "trade":
        f = {}
        if req_id is not MISSING:
            f["reqId"] = req_id
        f.update({"retCode": 0, "retMsg": "OK", "op": "pong", "data": [str(now_ms)], "connId": conn_id})
        return f
    f = {"op": "pong", "args": [now_ms]}
    _with_req_id(f, req_id)
    f["conn_id"] = conn_id
    return f


def command_ack(
    endpoint: Endpoint, conn_id: str, op: str, req_id: ReqId, *, success: bool = True, ret_msg: str | None = None
) -> dict[str, Any]:
    """A subscribe/unsubscribe (or generic error) reply on a stream socket."""
    if endpoint == "spot":
        msg = (op if success else "") if ret_msg is None else ret_msg
        f: dict[str, Any] = {"success": success, "ret_msg": msg, "conn_id": conn_id}
        _with_req_id(f, req_id)
        f["op"] = op
        return f
    if endpoint in ("linear", "inverse", "option"):
        f = {"success": success, "ret_msg": ret_msg or "", "conn_id": conn_id}
        _with_req_id(f, req_id, always=endpoint != "option")
        f["op"] = op
        return f
    if endpoint == "private":
        f = _with_req_id({}, req_id)
        f.update({"success": success, "ret_msg": ret_msg or "", "op": op, "conn_id": conn_id})
        return f
    # legacy spot v3
    f = {"op": op, "success": success}
    _with_req_id(f, req_id)
    f["ret_msg"] = (op if success else "") if ret_msg is None else ret_msg
    f["conn_id"] = conn_id
    return f


def option_command_resp(
    conn_id: str, op: str, req_id: ReqId, ok: list[str], failed: list[str]
) -> dict[str, Any]:
    """The option socket's ``COMMAND_RESP`` ack with per-topic success and failure lists."""
    f: dict[str, Any] = {"success": True, "ret_msg": "", "conn_id": conn_id}
    if req_id is not MISSING:
        f["req_id"] = req_id
    f.update({"data": {"failTopics": failed, "successTopics": ok}, "type": "COMMAND_RESP"})
    if op == "unsubscribe":
        f["op"] = op
    return f


def auth_reply(endpoint: Endpoint, conn_id: str, req_id: ReqId, code: int, message: str) -> dict[str, Any]:
    """The reply to ``auth``: ``success``/``ret_msg`` on stream sockets, ``retCode`` on trade."""
    if endpoint == "trade":
        f: dict[str, Any] = {}
        if req_id is not MISSING:
            f["reqId"] = req_id
        f.update({"retCode": code, "retMsg": message if code else "OK", "op": "auth", "connId": conn_id})
        return f
    f = _with_req_id({}, req_id)
    f.update({"success": code == 0, "ret_msg": "" if code == 0 else message, "op": "auth", "conn_id": conn_id})
    return f


def decode_error(text: str) -> str:
    """Bybit's message for a frame that is not a JSON object."""
    snippet = text[:40]
    first = snippet[:1] or "EOF"
    return (f"Failed to decode incoming data:readObjectStart: expect {{ or n, but found {first}, "
            f"error found in #1 byte of ...|{snippet}|..., bigger context ...|{snippet}|...")


def trade_reply(
    op: str,
    conn_id: str,
    req_id: ReqId,
    code: int,
    message: str,
    data: Any,
    header: dict[str, str] | None,
    ext: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``/v5/trade`` reply: ``reqId`` (if sent), ``retCode``, ``retMsg``, ``op``, ``data``, ``header``."""
    f: dict[str, Any] = {}
    if req_id is not MISSING:
        f["reqId"] = req_id
    f.update({"retCode": code, "retMsg": message, "op": op, "data": data, "retExtInfo": ext or {}})
    if header is not None:
        f["header"] = header
    f["connId"] = conn_id
    return f
