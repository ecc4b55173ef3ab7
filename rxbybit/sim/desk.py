"""The private desk: auth and subscriptions on the private sockets, and the pushes of account changes.

Handles every non-ping frame on ``/v5/private`` and ``/spot/private/v3``, and routes the engine's
events to the authenticated private sockets of their account, shaped by :mod:`.pushes` as Bybit
pushes them (protocol reference §3, §7, §9.1).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from ..protocol import replies
from ..protocol.endpoints import needs_auth, takes_subscriptions
from ..protocol.limits import ARGS_PER_REQUEST_ENFORCED
from ..protocol.replies import ReqId
from ..protocol.topics import PRIVATE_TOPICS, V3_PRIVATE_TOPICS, sharing_conflict
from .accounts import Event
from .args import topic_args
from .auth import authenticate
from .conn import Conn
from .engine import Engine
from .pushes import private_push, v3_account_push, v3_order_push, v3_pushes_status, v3_ticket_push


class PrivateDesk:
    """Private sockets of one simulator.

    ``connections`` is the live set of the simulator's connections (pushes go to the private ones),
    ``take_reject`` yields a pending injected rejection of a topic, ``now_ms`` is exchange time.
    """

    def __init__(self, engine: Engine, connections: Collection[Conn], take_reject: Callable[[str], str | None],
                 now_ms: Callable[[], int]) -> None:
        self.engine = engine
        self.connections = connections
        self.take_reject = take_reject
        self.now_ms = now_ms

    def on_message(self, conn: Conn, msg: dict[str, Any], op: Any, req_id: ReqId) -> None:
        """Handle one parsed non-ping frame on a private or spot v3 private socket."""
        if op == "auth":
            authenticate(conn, req_id, msg.get("args"), self.engine.accounts)
        elif op in ("subscribe", "unsubscribe"):
            self._command(conn, op, req_id, msg.get("args"))
        else:
            conn.reply_error(req_id, op if isinstance(op, str) else "", replies.INVALID_OP)

    def forget(self, conn: Conn) -> None:
        """A private socket closed: its subscriptions go with it."""
        conn.subs.clear()

    # ------------------------------------------------------------------ subscriptions

    def _command(self, conn: Conn, op: str, req_id: ReqId, raw_args: Any) -> None:
        error = self._refusal(conn, op, raw_args)
        if error is not None:
            conn.reply_error(req_id, op, error)
            return
        args = topic_args(raw_args) or []
        if op == "unsubscribe":
            for t in args:
                conn.subs.pop(t, None)
        else:
            for t in args:
                conn.subs[t] = None
        conn.reply(replies.command_ack(conn.endpoint, conn.conn_id, op, req_id))

    def _refusal(self, conn: Conn, op: str, raw_args: Any) -> str | None:
        """Why a private (un)subscribe is refused, or None (all or nothing, like Bybit)."""
        ep = conn.endpoint
        if conn.account is None:
            return replies.NOT_AUTHORIZED
        args = topic_args(raw_args)
        if args is None:
            return replies.ARGS_NOT_TOPICS
        limit = ARGS_PER_REQUEST_ENFORCED.get(ep)
        if limit is not None and len(args) > limit:
            return replies.args_size(limit)
        if op == "unsubscribe":
            return None
        allowed = V3_PRIVATE_TOPICS if ep == "spot_v3_private" else PRIVATE_TOPICS
        for topic in args:
            rejected = self.take_reject(topic)
            if rejected is not None:
                return rejected
            if topic not in allowed:
                return replies.handler_not_found(topic)
            if topic in conn.subs or args.count(topic) > 1:
                return replies.already_subscribed(topic)
        conflict = sharing_conflict(args) if ep == "private" else None
        return None if conflict is None else replies.cannot_share_request(*conflict)

    # ------------------------------------------------------------------ pushes

    def after_market(self) -> None:
        """After a market step: apply maker fills of resting orders and push what changed."""
        self.engine.after_market()
        self.route()

    def route(self) -> None:
        """Push the engine's pending events to the private sockets that subscribed them."""
        events = self.engine.drain()
        if not events:
            return
        now = self.now_ms()
        targets = [c for c in self.connections if c.account is not None and c.subs
                   and needs_auth(c.endpoint) and takes_subscriptions(c.endpoint)]
        for conn in targets:
            mine = [e for e in events if e.account is conn.account]
            if not mine:
                continue
            if conn.endpoint == "private":
                _push_v5(conn, mine, now)
            else:
                _push_v3(conn, mine, now)


def _push_v5(conn: Conn, events: list[Event], now: int) -> None:
    batches: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        for topic in (e.family, f"{e.family}.{e.category}"):
            if topic in conn.subs:
                batches.setdefault(topic, []).append(e.row)
    uid = conn.account.uid if conn.account is not None else 0
    for topic, rows in batches.items():
        conn.send_text(private_push(topic, rows, now, uid))


def _push_v3(conn: Conn, events: list[Event], now: int) -> None:
    subs = conn.subs
    for e in events:
        if e.family == "execution" and e.category == "spot" and e.fill is not None:
            o, f, maker = e.fill
            if "ticketInfo" in subs:
                conn.send_text(v3_ticket_push(o, f, maker, now))
            if "order" in subs:
                conn.send_text(v3_order_push(o, f.qty, f.price, f.trade_id, now))
        elif (e.family == "order" and e.category == "spot" and "order" in subs and e.order is not None
              and v3_pushes_status(e.order.status)):
            conn.send_text(v3_order_push(e.order, 0, 0, "", now))
        elif e.family == "wallet" and "outboundAccountInfo" in subs:
            conn.send_text(v3_account_push(e.row, now))
