"""Bybit's replies to client requests: the texts and frames each socket writes, and their parsers.

Acks, pongs and errors differ by endpoint (protocol reference §3-§5, §8, §9). The simulator writes
them with the builders here and the client reads them with the parsers here, so a reply text can
never drift on one side only. Every builder returns a dict in Bybit's key order (serialise it with
:func:`rxbybit.protocol.json_codec.dumps`). ``req_id`` is echoed as the client sent it (string or
number); :data:`MISSING` means the client sent none.
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
INVALID_SIGN = "Invalid sign"
REPEAT_AUTH = "Repeat auth"
AUTH_FAILED = "auth failed"
"""The legacy spot v3 error text when no reason is known."""
AUTH_FIRST = "Invalid apikey: authenticate this connection first (op auth)"
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
    INVALID_SIGN = 10004
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
        f.update({"retCode": code, "retMsg": message if code else OK, "op": "auth", "connId": conn_id})
        return f
    f = _with_req_id({}, req_id)
    f.update({"success": code == 0, "ret_msg": "" if code == 0 else message, "op": "auth", "conn_id": conn_id})
    return f


def v3_error(code: int, message: str) -> dict[str, Any]:
    """The legacy spot v3 private socket's error frame (e.g. a failed ``auth``)."""
    return {"type": "error", "ret_code": str(int(code)), "ret_msg": message or AUTH_FAILED}


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


def restart_notice(conn_id: str) -> dict[str, Any]:
    """What a trade socket gets before the exchange restarts (``10019``): reconnect."""
    return trade_reply("", conn_id, MISSING, RetCode.SERVICE_RESTARTING, SERVICE_RESTARTING, {}, None)
