"""The public desk: ``subscribe`` and ``unsubscribe`` on the public sockets, checked as Bybit checks them.

Handles every non-ping frame on ``/v5/public/{spot,linear,inverse,option}`` and
``/spot/public/v3``: request and connection limits, unknown and duplicate topics, the option
socket's per-topic ``COMMAND_RESP``, and the first frames of a new subscriber (after the ack, or before
it at a seeded rate, as Bybit sometimes does).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Final

from ..protocol import replies
from ..protocol.limits import ARGS_CHAR_BUDGET, ARGS_PER_REQUEST_ENFORCED, connection_refusal
from ..protocol.replies import ReqId
from .args import topic_args
from .conn import Conn
from .feeds import Feed, UnknownTopic
from .registry import FeedRegistry

EARLY_DATA_DELAY_MS: Final = 60
"""Virtual ms a late subscribe ack trails its topic's first data (a snapshot and a few deltas)."""


class PublicDesk:
    """Subscriptions of the public sockets; ``take_reject`` yields a pending injected rejection of a topic.

    ``data_before_ack`` is the share of successful subscribe requests whose first data (snapshot, then
    deltas) goes out *before* the ack, as seen in mainnet recordings; which requests are picked follows
    ``seed``, so a run is repeatable. ``speed`` scales how long the ack trails.
    """

    def __init__(self, feeds: FeedRegistry, take_reject: Callable[[str], str | None], *,
                 data_before_ack: float = 0.0, seed: int = 0, speed: float = 1.0,
                 unsubscribe_op: Callable[[], bool] = lambda: True) -> None:
        if not 0.0 <= data_before_ack <= 1.0:
            raise ValueError(f"data_before_ack must be a share in [0, 1], got {data_before_ack!r}")
        self.feeds = feeds
        self.take_reject = take_reject
        self.unsubscribe_op = unsubscribe_op
        """(unconfirmed) Whether an option unsubscribe answer names ``op`` (``faults.option_unsubscribe_op``)."""
        self.data_before_ack = data_before_ack
        self._early = random.Random(f"data-before-ack:{seed}")
        self._ack_delay_s = EARLY_DATA_DELAY_MS / 1000 / speed

    def _ack(self, conn: Conn, frame: dict[str, Any], subscribe: Callable[[], None]) -> None:
        """Send a subscribe ack and start the topics' data: ack first, or (at the seeded rate) data first."""
        if self.data_before_ack and self._early.random() < self.data_before_ack:
            subscribe()
            conn.reply_later(frame, self._ack_delay_s)
            return
        conn.reply(frame)
        subscribe()

    def on_message(self, conn: Conn, msg: dict[str, Any], op: Any, req_id: ReqId) -> None:
        """Handle one parsed non-ping frame on a public socket."""
        if op in ("subscribe", "unsubscribe"):
            self._command(conn, op, req_id, msg.get("args"))
        elif op == "auth":
            conn.reply_error(req_id, "auth", replies.AUTH_ON_PUBLIC)
        else:
            conn.reply_error(req_id, op if isinstance(op, str) else "", replies.INVALID_OP)

    def forget(self, conn: Conn) -> None:
        """A connection closed: it leaves every feed it subscribed."""
        for feed in conn.subs.values():
            if isinstance(feed, Feed):
                self.feeds.remove_subscriber(feed, conn)
        conn.subs.clear()

    def _command(self, conn: Conn, op: str, req_id: ReqId, raw_args: Any) -> None:
        ep = conn.endpoint
        args = topic_args(raw_args)
        if args is None:
            conn.reply_error(req_id, op, replies.ARGS_NOT_TOPICS)
            return
        limit = ARGS_PER_REQUEST_ENFORCED.get(ep)
        if limit is not None and len(args) > limit:
            conn.reply_error(req_id, op, replies.args_size(limit))
            return
        if op == "unsubscribe":
            self._unsubscribe_all(conn, req_id, args)
        elif ep == "option":
            self._option_subscribe(conn, req_id, args)
        else:
            self._subscribe_all(conn, op, req_id, args)

    def _subscribe_all(self, conn: Conn, op: str, req_id: ReqId, args: list[str]) -> None:
        """All or nothing: the first bad topic fails the whole request."""
        feeds: list[Feed] = []
        chars = conn.sub_chars
        for topic in args:
            error = self._check_topic(conn, topic, args)
            if error is None:
                chars += len(topic)
                if connection_refusal(conn.endpoint, chars, len(conn.subs) + len(feeds) + 1) is not None:
                    error = replies.args_too_long(ARGS_CHAR_BUDGET, topic)
            if error is not None:
                conn.reply_error(req_id, op, error)
                return
            feeds.append(self.feeds.feed(conn.endpoint, topic))

        def start() -> None:
            for topic, feed in zip(args, feeds, strict=True):
                self._subscribe(conn, topic, feed)

        self._ack(conn, replies.command_ack(conn.endpoint, conn.conn_id, op, req_id), start)

    def _option_subscribe(self, conn: Conn, req_id: ReqId, args: list[str]) -> None:
        """The option socket takes what it can and lists the rest as failed."""
        ok: list[str] = []
        failed: list[str] = []
        chars = conn.sub_chars
        for topic in args:
            if self._check_topic(conn, topic, args) is None and \
                    connection_refusal("option", chars + len(topic), len(conn.subs) + len(ok) + 1) is None:
                ok.append(topic)
                chars += len(topic)
            else:
                failed.append(topic)

        def start() -> None:
            for topic in ok:
                self._subscribe(conn, topic, self.feeds.feed("option", topic))

        self._ack(conn, replies.option_command_resp(conn.conn_id, "subscribe", req_id, ok, failed), start)

    def _unsubscribe_all(self, conn: Conn, req_id: ReqId, args: list[str]) -> None:
        removed = [t for t in args if t in conn.subs]
        for t in removed:
            feed = conn.subs.pop(t, None)
            conn.sub_chars -= len(t)
            if isinstance(feed, Feed):
                self.feeds.remove_subscriber(feed, conn)
        if conn.endpoint == "option":
            conn.reply(replies.option_command_resp(conn.conn_id, "unsubscribe", req_id, removed,
                                                   [t for t in args if t not in removed],
                                                   unsubscribe_op=self.unsubscribe_op()))
        else:
            conn.reply(replies.command_ack(conn.endpoint, conn.conn_id, "unsubscribe", req_id))

    def _check_topic(self, conn: Conn, topic: str, batch: list[str]) -> str | None:
        rejected = self.take_reject(topic)
        if rejected is not None:
            return rejected
        if topic in conn.subs or batch.count(topic) > 1:
            return replies.already_subscribed(topic)
        try:
            self.feeds.feed(conn.endpoint, topic)
        except (ValueError, UnknownTopic):
            return replies.handler_not_found(topic)
        return None

    def _subscribe(self, conn: Conn, topic: str, feed: Feed) -> None:
        frames = self.feeds.add_subscriber(feed, conn)
        conn.subs[topic] = feed
        conn.sub_chars += len(topic)
        for f in frames:
            conn.send_text(f)
