"""The private side of the simulator: auth, private subscriptions, the WS trade API and private pushes.

Handles every frame on ``/v5/private``, ``/v5/trade`` and ``/spot/private/v3`` (except pings),
calls the :class:`~.engine.Engine`, and routes the engine's events to the authenticated private
sockets of the account, shaped as Bybit pushes them (protocol reference §3, §7, §8, §9.1).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, Final

from ..protocol import replies
from ..protocol._json import dumps
from ..protocol.clock import now_ms as _wall_ms
from ..protocol.limits import ARGS_PER_REQUEST_ENFORCED, BATCH_ORDER_LIMITS, MAX_REQ_ID_LEN
from ..protocol.orders import V3_STATUS
from ..protocol.requests import TRADE_OPS
from ..protocol.signing import verify
from ..protocol.topics import PRIVATE_TOPICS, V3_PRIVATE_TOPICS, sharing_conflict
from .conn import Conn
from .engine import Account, Event, Order, OrderError
from .rows import dec

if TYPE_CHECKING:
    from .server import Simulator

DEMO_API_KEY: Final = "SIMdemoKEYrxbybit1"
"""API key of the simulator's ready paper-trading account (simulated money only)."""
DEMO_API_SECRET: Final = "SIMdemoSECRETrxbybitPAPERtrading0000"
"""API secret of the demo account. Public on purpose: it only works against the simulator."""



class Desk:
    """Private and trade endpoint logic of one simulator."""

    def __init__(self, sim: Simulator, rate_limit: int | None = None) -> None:
        self.sim = sim
        self.rate_limit = rate_limit
        self._windows: dict[tuple[int, str, str], tuple[int, int]] = {}
        sim.engine.add_account(DEMO_API_KEY, DEMO_API_SECRET)

    def forget(self, conn: Conn) -> None:
        """A connection closed (nothing to clean up beyond what the server does)."""

    def _reply(self, conn: Conn, frame: dict[str, Any]) -> None:
        conn.send_text(dumps(frame))

    # ------------------------------------------------------------------ dispatch

    def on_message(self, conn: Conn, msg: dict[str, Any], op: Any, req_id: Any) -> None:
        """Handle one parsed frame on a private, trade or spot v3 private socket."""
        if op == "auth":
            self._auth(conn, req_id, msg.get("args"))
            return
        if conn.endpoint == "trade":
            self._trade(conn, msg, op, req_id)
            return
        if op in ("subscribe", "unsubscribe"):
            self._subscribe(conn, op, req_id, msg.get("args"))
            return
        self._reply(conn, replies.command_ack(conn.endpoint, conn.conn_id, op if isinstance(op, str) else "",
                                             req_id, success=False, ret_msg=replies.INVALID_OP))

    # ------------------------------------------------------------------ auth

    def _auth(self, conn: Conn, req_id: Any, args: Any) -> None:
        ep = conn.endpoint
        code, message = 0, ""
        acct: Account | None = None
        if conn.account is not None:
            code, message = 20001, "Repeat auth"
        elif not isinstance(args, list) or len(args) != 3:
            code, message = 10001, "Params Error"
        else:
            key, expires, signature = args
            exp = _as_int(expires)
            acct = self.sim.engine.accounts.get(key) if isinstance(key, str) else None
            if exp is None or not isinstance(signature, str):
                code, message = 10001, "Params Error"
            elif acct is None:
                code, message = 10003, "Invalid apikey"
            elif exp <= _wall_ms():
                code, message = 10001, "Params Error"
            elif not verify(acct.api_secret, exp, signature):
                code, message = 10004, "Invalid sign"
        if code == 0 and acct is not None:
            conn.account = acct
        if ep == "trade":
            self._reply(conn, replies.auth_reply("trade", conn.conn_id, req_id, code, message))
        elif ep == "spot_v3_private" and code:
            self._reply(conn, {"type": "error", "ret_code": str(code), "ret_msg": message or "auth failed"})
        else:
            self._reply(conn, replies.auth_reply("private", conn.conn_id, req_id, code, message))

    # ------------------------------------------------------------------ private subscribe

    def _subscribe(self, conn: Conn, op: str, req_id: Any, args: Any) -> None:
        ep = conn.endpoint

        def fail(message: str) -> None:
            self._reply(conn, replies.command_ack(ep, conn.conn_id, op, req_id, success=False, ret_msg=message))

        if conn.account is None:
            fail(replies.NOT_AUTHORIZED)
            return
        if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
            fail("error:args must be a non-empty list of topic strings")
            return
        limit = ARGS_PER_REQUEST_ENFORCED.get(ep)
        if limit is not None and len(args) > limit:
            fail(replies.args_size(limit))
            return
        if op == "unsubscribe":
            for t in args:
                conn.subs.pop(t, None)
            self._reply(conn, replies.command_ack(ep, conn.conn_id, op, req_id))
            return
        allowed = V3_PRIVATE_TOPICS if ep == "spot_v3_private" else PRIVATE_TOPICS
        for topic in args:
            rejected = self.sim.faults.take_reject(topic)
            if rejected is not None:
                fail(rejected)
                return
            if topic not in allowed:
                fail(replies.handler_not_found(topic))
                return
            if topic in conn.subs or args.count(topic) > 1:
                fail(replies.already_subscribed(topic))
                return
        conflict = sharing_conflict(args) if ep == "private" else None
        if conflict is not None:
            fail(replies.cannot_share_request(*conflict))
            return
        for topic in args:
            conn.subs[topic] = None
        self._reply(conn, replies.command_ack(ep, conn.conn_id, op, req_id))

    # ------------------------------------------------------------------ trade

    def _trade(self, conn: Conn, msg: dict[str, Any], op: Any, req_id: Any) -> None:
        name = op if isinstance(op, str) else ""

        def reply(code: int, message: str, data: Any = None, header: dict[str, str] | None = None,
                  ext: dict[str, Any] | None = None) -> None:
            self._reply(conn, replies.trade_reply(name, conn.conn_id, req_id, code, message,
                                                 {} if data is None else data, header, ext))

        if name not in TRADE_OPS:
            reply(10404, f"op {op!r} is not supported; expected one of {', '.join(TRADE_OPS)}")
            return
        if conn.account is None:
            reply(10003, "Invalid apikey: authenticate this connection first (op auth)")
            return
        if req_id is not replies.MISSING:
            if not isinstance(req_id, str | int) or isinstance(req_id, bool) or len(str(req_id)) > MAX_REQ_ID_LEN:
                reply(10001, f"params error: reqId must be a string of at most {MAX_REQ_ID_LEN} characters")
                return
            if not conn.remember_req_id(req_id):
                reply(20006, f"Duplicate reqId: {req_id}")
                return
        header = msg.get("header") or msg.get("headers")
        ts = _as_int(header.get("X-BAPI-TIMESTAMP")) if isinstance(header, dict) else None
        if ts is None:
            reply(10001, "params error: header X-BAPI-TIMESTAMP (ms) is required")
            return
        assert isinstance(header, dict)
        recv = _as_int(header.get("X-BAPI-RECV-WINDOW", 5000))
        now = _wall_ms()
        if recv is None or recv <= 0:
            reply(10001, "params error: X-BAPI-RECV-WINDOW must be a positive integer (ms)")
            return
        if not now - recv <= ts < now + 1000:
            reply(10002, f"invalid request, please check your server timestamp or recv_window param. "
                         f"req_timestamp[{ts}],server_timestamp[{now}],recv_window[{recv}]")
            return
        args = msg.get("args")
        if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
            reply(10001, "params error: args must hold exactly one object")
            return
        params: dict[str, Any] = args[0]
        acct: Account = conn.account
        category = params.get("category")
        batch = name.endswith("-batch")
        items = params.get("request") if batch else [params]
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            reply(10001, "params error: a batch takes args [{category, request: [orders...]}]")
            return
        if batch and len(items) > BATCH_ORDER_LIMITS.get(str(category), 20):
            reply(10001, f"params error: at most {BATCH_ORDER_LIMITS.get(str(category), 20)} orders per batch for "
                         f"{category}")
            return
        limit = self.rate_limit or (20 if category == "spot" else 10)
        allowed, out_header = self._rate(acct, name, str(category), len(items), limit, now)
        if not allowed:
            reply(10006, "Too many visits. Exceeded the API Rate Limit.", header=out_header)
            return
        engine = self.sim.engine
        action = {"order.create": engine.create, "order.amend": engine.amend, "order.cancel": engine.cancel}[
            name.removesuffix("-batch")]
        if not batch:
            try:
                o = action(acct, category, params)
            except OrderError as exc:
                reply(exc.code, exc.message, header=out_header)
            else:
                reply(0, "OK", {"orderId": o.order_id, "orderLinkId": o.link_id}, out_header)
            self.route()
            return
        rows, ext = [], []
        for item in items:
            try:
                o = action(acct, category, {**item, "category": category})
            except OrderError as exc:
                rows.append(self._batch_row(name, category, item, None))
                ext.append({"code": exc.code, "msg": exc.message})
            else:
                rows.append(self._batch_row(name, category, item, o))
                ext.append({"code": 0, "msg": "OK"})
        reply(0, "OK", {"list": rows}, out_header, {"list": ext})
        self.route()

    @staticmethod
    def _batch_row(op: str, category: Any, item: dict[str, Any], o: Order | None) -> dict[str, Any]:
        row: dict[str, Any] = {"category": category, "symbol": item.get("symbol", ""),
                               "orderId": o.order_id if o else "",
                               "orderLinkId": o.link_id if o else str(item.get("orderLinkId") or "")}
        if op == "order.create-batch":
            row["createAt"] = str(o.created) if o else ""
        return row

    def _rate(self, acct: Account, op: str, category: str, cost: int, limit: int,
              now: int) -> tuple[bool, dict[str, str]]:
        key = (acct.uid, op, category)
        start, used = self._windows.get(key, (now, 0))
        if now - start >= 1000:
            start, used = now, 0
        ok = used + cost <= limit
        if ok:
            used += cost
        self._windows[key] = (start, used)
        header = {"X-Bapi-Limit": str(limit), "X-Bapi-Limit-Status": str(max(limit - used, 0)),
                  "X-Bapi-Limit-Reset-Timestamp": str(start + 1000 if not ok else now),
                  "Traceid": secrets.token_hex(16), "Timenow": str(now)}
        return ok, header

    # ------------------------------------------------------------------ pushes

    def after_market(self) -> None:
        """After a market step: apply maker fills of resting orders and push what changed."""
        self.sim.engine.after_market()
        self.route()

    def route(self) -> None:
        """Push the engine's pending events to the private sockets that subscribed them."""
        events = self.sim.engine.drain()
        if not events:
            return
        now = self.sim.now_ms()
        targets = [c for c in self.sim.connections if c.account is not None and c.subs
                   and c.endpoint in ("private", "spot_v3_private")]
        for conn in targets:
            mine = [e for e in events if e.account is conn.account]
            if not mine:
                continue
            if conn.endpoint == "private":
                self._push_v5(conn, mine, now)
            else:
                self._push_v3(conn, mine, now)

    def _push_v5(self, conn: Conn, events: list[Event], now: int) -> None:
        batches: dict[str, list[dict[str, Any]]] = {}
        for e in events:
            for topic in (e.family, f"{e.family}.{e.category}"):
                if topic in conn.subs:
                    batches.setdefault(topic, []).append(e.row)
        for topic, rows in batches.items():
            if topic.startswith("execution.fast"):
                frame: dict[str, Any] = {"topic": topic, "creationTime": now, "data": rows}
            elif topic.startswith("execution"):
                uid = conn.account.uid
                frame = {"topic": topic, "id": f"{uid}_{rows[0]['symbol']}_{rows[0]['seq']}", "creationTime": now,
                         "data": rows}
            else:
                frame = {"id": f"{secrets.token_hex(7)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}",
                         "topic": topic, "creationTime": now, "data": rows}
            conn.send_text(dumps(frame))

    def _push_v3(self, conn: Conn, events: list[Event], now: int) -> None:
        ts = str(now)
        for e in events:
            if e.family == "execution" and e.category == "spot" and e.fill is not None:
                o, f, maker = e.fill
                if "ticketInfo" in conn.subs:
                    inst = o.inst
                    row = {"e": "ticketInfo", "E": ts, "s": inst.symbol, "q": inst.qty(f.qty), "t": str(f.ts),
                           "p": inst.px(f.price), "T": f.trade_id, "o": o.order_id, "c": o.link_id,
                           "O": "0", "a": str(o.account.uid), "A": "0", "m": maker, "S": o.side.upper()}
                    conn.send_text(dumps({"type": "snapshot", "topic": "ticketInfo", "ts": ts, "data": [row]}))
                if "order" in conn.subs:
                    conn.send_text(dumps({"type": "snapshot", "topic": "order", "ts": ts,
                                          "data": [_v3_order(o, f.qty, f.price, f.trade_id, now)]}))
            elif (e.family == "order" and e.category == "spot" and "order" in conn.subs and e.order is not None
                  and e.order.status in ("New", "Cancelled", "PartiallyFilledCanceled", "Rejected")):
                conn.send_text(dumps({"type": "snapshot", "topic": "order", "ts": ts,
                                      "data": [_v3_order(e.order, 0, 0, "", now)]}))
            elif e.family == "wallet" and "outboundAccountInfo" in conn.subs:
                balances = [{"a": c["coin"], "f": c["free"], "l": c["locked"]} for c in e.row["coin"]]
                row = {"e": "outboundAccountInfo", "E": ts, "T": True, "W": True, "D": True, "B": balances}
                conn.send_text(dumps({"type": "snapshot", "topic": "outboundAccountInfo", "ts": ts, "data": [row]}))


def _v3_order(o: Order, last_qty: int, last_price: int, trade_id: str, now: int) -> dict[str, Any]:
    inst = o.inst
    if o.tif == "PostOnly":
        otype = "LIMIT_MAKER"
    elif o.order_type == "Limit":
        otype = "LIMIT"
    else:
        otype = "MARKET_OF_BASE" if o.market_unit == "baseCoin" or o.side == "Sell" else "MARKET_OF_QUOTE"
    return {
        "e": "order", "E": str(now), "s": inst.symbol, "c": o.link_id, "S": o.side.upper(), "o": otype,
        "f": o.tif if o.tif != "PostOnly" else "GTC", "q": inst.qty(o.qty), "p": inst.px(o.price) if o.price else "0",
        "X": V3_STATUS.get(o.status, o.status.upper()), "i": o.order_id, "M": "0",
        "l": inst.qty(last_qty), "z": inst.qty(o.cum_qty), "L": inst.px(last_price) if last_price else "0",
        "n": dec(o.cum_fee), "N": o.fee_coin, "u": True, "w": o.active, "m": o.tif == "PostOnly",
        "O": str(o.created), "Z": dec(o.cum_value), "A": "0", "C": False, "v": "0", "d": "NO_LIQ",
        "t": trade_id,
    }


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
