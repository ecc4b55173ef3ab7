"""Bybit's replies to client requests: the texts and frames each socket writes, and their parsers.

Acks, pongs and errors differ by endpoint (protocol reference §3-§5, §8, §9). The simulator writes
them with the builders here and the client reads them with the parsers here, so a reply text can
never drift on one side only. Every builder returns a dict in Bybit's key order (serialise it with
:func:`rxbybit.protocol.json_codec.dumps`). A stream socket echoes ``req_id`` as a string, even when
the client sent a number (``"req_id":"3"``, seen in real captures); the trade socket echoes ``reqId`` as
sent (unconfirmed). :data:`MISSING` means the client sent none.

Texts marked (unconfirmed) are guesses: no capture of the real exchange shows them.
"""

from __future__ import annotations

from enum import IntEnum
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
INTERNAL_ERROR = "error:internal error"
"""The server failed on a request (the connection stays up)."""
AUTH_ON_PUBLIC = "error:auth is only served on private sockets"
ARGS_NOT_TOPICS = "error:args must be a non-empty list of topic strings"

# auth and the WS trade API (``retMsg``; the codes are :class:`RetCode`)
OK = "OK"
AUTH_PARAMS_ERROR = "Params Error"
"""``auth`` with malformed args or an expired ``expires``."""
INVALID_API_KEY = "Invalid apikey"
"""V5 ``auth`` with an unknown key (unconfirmed: no capture shows the real text)."""
INVALID_SIGN = "Invalid sign"
"""V5 ``auth`` with a bad signature (unconfirmed: no capture shows the real text)."""
V3_INVALID_SIGNATURE = "the signature of this request is invalid"
"""Spot v3 private ``auth`` with a bad signature, sent with ``ret_code`` "10003" (observed)."""
PERMISSION_DENIED = "Permission denied for current apikey"
"""``10005`` on ``/v5/trade``: sent as ``op: auth`` with no ``reqId`` and no ``data`` (observed)."""
TOO_MANY_SESSIONS = "Too many sessions under the same UID"
"""``10003`` on ``/v5/trade`` (Bybit's docs; the reply shape is unconfirmed)."""
REPEAT_AUTH = "Repeat auth"
AUTH_FAILED = "auth failed"
"""The legacy spot v3 error text when no reason is known."""
AUTH_FIRST = "Request not authorized: authenticate this connection first (op auth)"
"""A trade request before ``auth``: ``10005`` (unconfirmed: Bybit's docs give 10003 on this socket to
"Too many sessions under the same UID", so the simulator no longer uses 10003 here)."""
SERVICE_RESTARTING = "Service is restarting, please reconnect"
RATE_LIMITED = "Too many visits. Exceeded the API Rate Limit."
DUPLICATE_LINK_ID = "OrderLinkedID is duplicate"
ORDER_NOT_FOUND = "order not exists or too late to cancel"
QTY_TRUNCATED = "Order quantity is truncated to zero"


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


def params_error(detail: str) -> str:
    """``10001`` text: ``params error: <what was wrong>``."""
    return f"params error: {detail}"


def duplicate_req_id(req_id: Any) -> str:
    """``20006``: the connection used this ``reqId`` before."""
    return f"Duplicate reqId: {req_id}"


def timestamp_out_of_window(timestamp_ms: int, server_ms: int, recv_window_ms: int) -> str:
    """``10002``: the request's timestamp is outside the receive window."""
    return (f"invalid request, please check your server timestamp or recv_window param. "
            f"req_timestamp[{timestamp_ms}],server_timestamp[{server_ms}],recv_window[{recv_window_ms}]")


def unsupported_op(op: Any, supported: tuple[str, ...]) -> str:
    """``10404``: the trade socket does not serve ``op``."""
    return f"op {op!r} is not supported; expected one of {', '.join(supported)}"


def unsupported_category(category: Any) -> str:
    """``10404``: a trade request named no market category the exchange serves."""
    return f"category {category!r} is not supported; use spot, linear, inverse or option"


def too_many_active_orders(limit: int) -> str:
    """``110020``: the account holds its maximum of open orders."""
    return f"Not allowed to have more than {limit} active orders"


def invalid_price(detail: str) -> str:
    """``110003``: the price is not a positive multiple of the tick."""
    return f"Order price is invalid: {detail}"


def insufficient_balance(detail: str) -> str:
    """``110007``: the available balance cannot pay for the order."""
    return f"ab not enough for new order: {detail}"


# --------------------------------------------------------------------------- retCodes
# Auth and the WS trade API answer with a numeric code and a text (above); both are written here once.


class RetCode(IntEnum):
    """Bybit's numeric ``retCode`` / ``ret_code`` values the exchange (and the simulator) answers with."""

    OK = 0
    PARAMS_ERROR = 10001
    TIMESTAMP_OUT_OF_WINDOW = 10002
    INVALID_API_KEY = 10003
    TOO_MANY_SESSIONS = 10003
    """Same number, trade socket meaning (protocol reference §8)."""
    INVALID_SIGN = 10004
    PERMISSION_DENIED = 10005
    RATE_LIMITED = 10006
    SERVICE_RESTARTING = 10019
    NOT_SUPPORTED = 10404
    REPEAT_AUTH = 20001
    DUPLICATE_REQ_ID = 20006
    ORDER_NOT_FOUND = 110001
    INVALID_PRICE = 110003
    INSUFFICIENT_BALANCE = 110007
    QTY_TRUNCATED = 110017
    TOO_MANY_ACTIVE_ORDERS = 110020
    DUPLICATE_LINK_ID = 110072


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""The client's request had no request id."""

ReqId = Any
"""A request id as the client sent it, or :data:`MISSING`."""


def echo_req_id(req_id: Any) -> str:
    """``req_id`` as a stream socket echoes it: always a string (``3`` -> ``"3"``, observed)."""
    return req_id if isinstance(req_id, str) else str(req_id)


def _with_req_id(frame: dict[str, Any], req_id: ReqId, *, always: bool = False) -> dict[str, Any]:
    if req_id is not MISSING:
        frame["req_id"] = echo_req_id(req_id)
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
        f.update({"retCode": 0, "retMsg": OK, "op": "pong", "data": [str(now_ms)], "connId": conn_id})
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
    conn_id: str, op: str, req_id: ReqId, ok: list[str], failed: list[str], *, unsubscribe_op: bool = True
) -> dict[str, Any]:
    """The option socket's ``COMMAND_RESP`` ack with per-topic success and failure lists.

    A subscribe ack carries no ``req_id``, ``ret_msg`` or ``op`` (observed), so a client matches it by
    its topics. ``req_id`` is accepted for symmetry and not echoed. An unsubscribe ack keeps
    ``op: "unsubscribe"`` (unconfirmed); ``unsubscribe_op=False`` leaves it out like the subscribe
    ack's (the other reading, also unconfirmed).
    """
    f: dict[str, Any] = {"success": True, "conn_id": conn_id,
                         "data": {"failTopics": failed, "successTopics": ok}, "type": "COMMAND_RESP"}
    if op == "unsubscribe" and unsubscribe_op:
        f["op"] = op
    return f


def auth_reply(endpoint: Endpoint, conn_id: str, req_id: ReqId, code: int, message: str) -> dict[str, Any]:
    """The reply to ``auth``: ``success``/``ret_msg`` on stream sockets, ``retCode`` on trade."""
    if endpoint == "trade":
        f: dict[str, Any] = {}
        if req_id is not MISSING:
            f["reqId"] = req_id
        f.update({"retCode": code, "retMsg": message if code else OK, "op": "auth", "connId": conn_id})
        return f
    f = _with_req_id({}, req_id)
    f.update({"success": code == 0, "ret_msg": "" if code == 0 else message, "op": "auth", "conn_id": conn_id})
    return f


def v3_error(code: int, message: str) -> dict[str, Any]:
    """The legacy spot v3 private socket's error frame, in the captured key order (a bad signature:
    ``{"ret_code":"10003","type":"error","ret_msg":"the signature of this request is invalid"}``)."""
    return {"ret_code": str(int(code)), "type": "error", "ret_msg": message or AUTH_FAILED}


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


def permission_denied(conn_id: str) -> dict[str, Any]:
    """A ``/v5/trade`` rejection with no ``reqId`` and no ``data``, seen as a reply to a request on a key
    without trade permission (observed): ``op`` is ``auth`` whatever the request was."""
    return {"retCode": int(RetCode.PERMISSION_DENIED), "retMsg": PERMISSION_DENIED, "op": "auth", "connId": conn_id}


def restart_notice(conn_id: str) -> dict[str, Any]:
    """What a trade socket gets before the exchange restarts (``10019``): reconnect."""
    return trade_reply("", conn_id, MISSING, RetCode.SERVICE_RESTARTING, SERVICE_RESTARTING, {}, None)
