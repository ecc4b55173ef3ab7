"""The WS trade API (``/v5/trade``): each request checked as Bybit checks it, then run by the engine.

Checks, in Bybit's order: a known op, an authenticated socket, an unused ``reqId``, a fresh
``X-BAPI-TIMESTAMP`` within the receive window, the args shape and batch size, then the per-second
rate limit (reported in the reply ``header``). Replies come from :mod:`rxbybit.protocol.replies`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection
from typing import Any

from ..protocol import replies
from ..protocol.clock import now_ms as wall_ms
from ..protocol.limits import (
    DEFAULT_RECV_WINDOW_MS,
    MAX_REQ_ID_LEN,
    RATE_WINDOW_MS,
    batch_order_limit,
    order_rate_limit,
    timestamp_in_window,
)
from ..protocol.replies import ReqId, RetCode
from ..protocol.requests import TRADE_OPS
from .accounts import Account, Order, OrderError
from .args import as_int
from .auth import authenticate
from .conn import Conn
from .engine import Engine
from .faults import TradeKnobs


def _params(detail: str) -> OrderError:
    return OrderError(RetCode.PARAMS_ERROR, replies.params_error(detail))


class TradeDesk:
    """Requests on the trade sockets; ``after_orders`` pushes what they changed to the private sockets.

    ``rate_limit`` overrides Bybit's requests per second per op (None: Bybit's per category).
    """

    def __init__(self, engine: Engine, after_orders: Callable[[], None], rate_limit: int | None = None,
                 knobs: TradeKnobs | None = None, connections: Collection[Conn] = ()) -> None:
        self.engine = engine
        self.after_orders = after_orders
        self.rate_limit = rate_limit
        self.knobs = knobs or TradeKnobs()
        self.connections = connections
        self._windows: dict[tuple[int, str, str], tuple[int, int]] = {}

    def on_message(self, conn: Conn, msg: dict[str, Any], op: Any, req_id: ReqId) -> None:
        """Handle one parsed non-ping frame on a trade socket."""
        if op == "auth":
            if self._too_many_sessions(conn, msg.get("args")):
                conn.reply(replies.auth_reply("trade", conn.conn_id, req_id, RetCode.TOO_MANY_SESSIONS,
                                              replies.TOO_MANY_SESSIONS))
                return
            authenticate(conn, req_id, msg.get("args"), self.engine.accounts)
            return
        name = op if isinstance(op, str) else ""
        knobs = self.knobs
        if knobs.denials and name in TRADE_OPS:
            knobs.denials -= 1
            conn.reply(replies.permission_denied(conn.conn_id))
            return
        if knobs.restarting and name in TRADE_OPS:
            _reply(conn, name, req_id, RetCode.SERVICE_RESTARTING, replies.SERVICE_RESTARTING)
            return
        try:
            acct, params, items, now = self._admit(conn, msg, name, op, req_id)
        except OrderError as exc:
            _reply(conn, name, req_id, exc.code, exc.message)
            return
        category = params.get("category")
        limit = self.rate_limit or order_rate_limit(str(category))
        allowed, header = self._rate(acct, name, str(category), len(items), limit, now)
        if not allowed:
            _reply(conn, name, req_id, RetCode.RATE_LIMITED, replies.RATE_LIMITED, header=header)
            return
        self._perform(conn, name, req_id, acct, params, items, header)
        self.after_orders()

    def forget(self, conn: Conn) -> None:
        """A trade socket closed (its request ids go with it)."""

    def _too_many_sessions(self, conn: Conn, args: Any) -> bool:
        limit = self.knobs.session_limit
        if limit is None or conn.account is not None or not isinstance(args, list) or not args:
            return False
        acct = self.engine.accounts.get(args[0]) if isinstance(args[0], str) else None
        held = sum(1 for c in self.connections if c.endpoint == "trade" and c.account is acct and c is not conn)
        return acct is not None and held >= limit

    def _admit(self, conn: Conn, msg: dict[str, Any], name: str, op: Any,
               req_id: ReqId) -> tuple[Account, dict[str, Any], list[dict[str, Any]], int]:
        """``(account, params, orders, server ms)`` of an acceptable request, else ``OrderError``."""
        if name not in TRADE_OPS:
            raise OrderError(RetCode.NOT_SUPPORTED, replies.unsupported_op(op, TRADE_OPS))
        acct = conn.account
        if acct is None:
            raise OrderError(RetCode.PERMISSION_DENIED, replies.AUTH_FIRST)
        if req_id is not replies.MISSING:
            if not isinstance(req_id, str | int) or isinstance(req_id, bool) or len(str(req_id)) > MAX_REQ_ID_LEN:
                raise _params(f"reqId must be a string of at most {MAX_REQ_ID_LEN} characters")
            if not conn.remember_req_id(req_id):
                raise OrderError(RetCode.DUPLICATE_REQ_ID, replies.duplicate_req_id(req_id))
        header = msg.get("header") or msg.get("headers")
        if not isinstance(header, dict) or (ts := as_int(header.get("X-BAPI-TIMESTAMP"))) is None:
            raise _params("header X-BAPI-TIMESTAMP (ms) is required")
        recv = as_int(header.get("X-BAPI-RECV-WINDOW", DEFAULT_RECV_WINDOW_MS))
        now = wall_ms()
        if recv is None or recv <= 0:
            raise _params("X-BAPI-RECV-WINDOW must be a positive integer (ms)")
        if not timestamp_in_window(ts, now, recv):
            raise OrderError(RetCode.TIMESTAMP_OUT_OF_WINDOW, replies.timestamp_out_of_window(ts, now, recv))
        args = msg.get("args")
        if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
            raise _params("args must hold exactly one object")
        params: dict[str, Any] = args[0]
        category = params.get("category")
        batch = name.endswith("-batch")
        items = params.get("request") if batch else [params]
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise _params("a batch takes args [{category, request: [orders...]}]")
        if batch and len(items) > batch_order_limit(str(category)):
            raise _params(f"at most {batch_order_limit(str(category))} orders per batch for {category}")
        return acct, params, items, now

    def _perform(self, conn: Conn, name: str, req_id: ReqId, acct: Account, params: dict[str, Any],
                 items: list[dict[str, Any]], header: dict[str, str]) -> None:
        engine = self.engine
        action = {"order.create": engine.create, "order.amend": engine.amend, "order.cancel": engine.cancel}[
            name.removesuffix("-batch")]
        category = params.get("category")
        if not name.endswith("-batch"):
            try:
                o = action(acct, category, params)
            except OrderError as exc:
                _reply(conn, name, req_id, exc.code, exc.message, header=header)
            else:
                _reply(conn, name, req_id, RetCode.OK, replies.OK, {"orderId": o.order_id, "orderLinkId": o.link_id},
                       header)
            return
        rows, ext = [], []
        for item in items:
            try:
                o = action(acct, category, {**item, "category": category})
            except OrderError as exc:
                rows.append(_batch_row(name, category, item, None))
                ext.append({"code": exc.code, "msg": exc.message})
            else:
                rows.append(_batch_row(name, category, item, o))
                ext.append({"code": RetCode.OK, "msg": replies.OK})
        _reply(conn, name, req_id, RetCode.OK, replies.OK, {"list": rows}, header, {"list": ext})

    def _rate(self, acct: Account, op: str, category: str, cost: int, limit: int,
              now: int) -> tuple[bool, dict[str, str]]:
        key = (acct.uid, op, category)
        start, used = self._windows.get(key, (now, 0))
        if now - start >= RATE_WINDOW_MS:
            start, used = now, 0
        ok = used + cost <= limit
        if ok:
            used += cost
        self._windows[key] = (start, used)
        header = {"X-Bapi-Limit": str(limit), "X-Bapi-Limit-Status": str(max(limit - used, 0)),
                  "X-Bapi-Limit-Reset-Timestamp": str(start + RATE_WINDOW_MS if not ok else now),
                  "Traceid": secrets.token_hex(16), "Timenow": str(now)}
        return ok, header


def _reply(conn: Conn, op: str, req_id: ReqId, code: int, message: str, data: Any = None,
           header: dict[str, str] | None = None, ext: dict[str, Any] | None = None) -> None:
    conn.reply(replies.trade_reply(op, conn.conn_id, req_id, code, message, {} if data is None else data, header, ext))


def _batch_row(op: str, category: Any, item: dict[str, Any], o: Order | None) -> dict[str, Any]:
    row: dict[str, Any] = {"category": category, "symbol": item.get("symbol", ""),
                           "orderId": o.order_id if o else "",
                           "orderLinkId": o.link_id if o else str(item.get("orderLinkId") or "")}
    if op == "order.create-batch":
        row["createAt"] = str(o.created) if o else ""
    return row
