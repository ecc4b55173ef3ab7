"""The public desk: ``subscribe`` and ``unsubscribe`` on the public sockets, checked as Bybit checks them.

Handles every non-ping frame on ``/v5/public/{spot,linear,inverse,option}`` and
``/spot/public/v3``: request and connection limits, unknown and duplicate topics, the option
socket's per-topic ``COMMAND_RESP``, and the first frames of a new subscriber (after the ack).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..protocol import replies
from ..protocol.limits import ARGS_CHAR_BUDGET, ARGS_PER_REQUEST_ENFORCED, connection_refusal
from ..protocol.replies import ReqId
from .args import topic_args
from .conn import Conn
from .feeds import Feed, UnknownTopic
from .registry import FeedRegistry


class PublicDesk:
    """Subscriptions of the public sockets; ``take_reject`` yields a pending injected rejection of a topic."""

    def __init__(self, feeds: FeedRegistry, take_reject: Callable[[str], str | None]) -> None:
        self.feeds = feeds
        self.take_reject = take_reject

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
        conn.reply(replies.command_ack(conn.endpoint, conn.conn_id, op, req_id))
        for topic, feed in zip(args, feeds, strict=True):
            self._subscribe(conn, topic, feed)

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
        conn.reply(replies.option_command_resp(conn.conn_id, "subscribe", req_id, ok, failed))
        for topic in ok:
            self._subscribe(conn, topic, self.feeds.feed("option", topic))

    def _unsubscribe_all(self, conn: Conn, req_id: ReqId, args: list[str]) -> None:
        removed = [t for t in args if t in conn.subs]
        for t in removed:
            feed = conn.subs.pop(t, None)
            conn.sub_chars -= len(t)
            if isinstance(feed, Feed):
                self.feeds.remove_subscriber(feed, conn)
        if conn.endpoint == "option":
            conn.reply(replies.option_command_resp(conn.conn_id, "unsubscribe", req_id, removed,
                                                   [t for t in args if t not in removed]))
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
