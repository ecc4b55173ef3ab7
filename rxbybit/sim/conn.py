"""One client connection of the simulator: its socket, subscriptions and send path.

Sends never await: a frame is written straight into the socket's buffer (like
``websockets.broadcast``), so replies and pushes keep their order. A stalled connection queues
frames instead (bounded), and a client that stops reading is cut once its buffer passes
:data:`MAX_BUFFER` bytes, so a slow reader never grows the server's memory without bound.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Final

from ..protocol import replies
from ..protocol.endpoints import Endpoint
from ..protocol.json_codec import dumps
from ..protocol.replies import ReqId, RetCode
from ..transport import ws_internals as wsi
from .accounts import Account

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection

MAX_BUFFER: Final = 32 * 2**20
"""Bytes a client may leave unread before the simulator drops it."""
MAX_STALLED_FRAMES: Final = 200_000


class Conn:
    """Server-side state of one websocket connection."""

    def __init__(self, ws: ServerConnection, endpoint: Endpoint, conn_id: str, path: str) -> None:
        self.ws = ws
        self.endpoint = endpoint
        self.path = path
        self.conn_id = conn_id
        self.subs: dict[str, object] = {}
        """Subscribed topic -> its feed (public) or None (private)."""
        self.sub_chars = 0
        self.account: Account | None = None
        """The authenticated account (private, trade, spot v3 private)."""
        self.silent = False
        self.stalled_until = 0.0
        self.pending: deque[bytes] = deque()
        self.last_active = time.monotonic()
        self.max_idle_s: float | None = None
        self.req_ids: set[Any] = set()
        self.req_order: deque[Any] = deque()
        self.closed = False
        self.frames_sent = 0
        self.latency_s = 0.0
        """Simulated network latency: every frame leaves this long after it is sent (0: at once)."""
        self.in_flight: deque[tuple[float, bytes]] = deque()
        self.late: list[tuple[float, bytes]] = []
        """Replies held back until a monotonic time (a subscribe ack sent after its first data)."""
        self._out: list[tuple[bytes, bytes]] | None = None
        """Fan-out frames queued in this turn of the event loop (see :meth:`send_frame`)."""
        wsi.on_pong_sent(ws, self._on_pong)

    def _on_pong(self) -> bool:
        if self.silent:
            return False
        self.last_active = time.monotonic()
        return True

    def __repr__(self) -> str:
        return f"Conn({self.path} {self.conn_id} subs={len(self.subs)})"

    @property
    def stalled(self) -> bool:
        """True while a stall fault holds this connection's output."""
        return self.stalled_until > time.monotonic()

    def reply(self, frame: dict[str, Any]) -> None:
        """Send a reply frame (a dict in Bybit's key order)."""
        self.send_text(dumps(frame))

    def reply_error(self, req_id: ReqId, op: str, message: str) -> None:
        """Refuse a request in this socket's shape: ``retCode`` 10001 on trade, a failed ack elsewhere."""
        if self.endpoint == "trade":
            self.reply(replies.trade_reply(op, self.conn_id, req_id, RetCode.PARAMS_ERROR, message, {}, None))
        else:
            self.reply(replies.command_ack(self.endpoint, self.conn_id, op, req_id, success=False, ret_msg=message))

    def send_text(self, text: str) -> None:
        """Queue one text frame (see the module doc)."""
        self.send_bytes(text.encode())

    def send_bytes(self, data: bytes) -> None:
        """Queue one UTF-8 encoded text frame (after :attr:`latency_s`, if set)."""
        if self.closed:
            return
        if self.latency_s:
            self.in_flight.append((time.monotonic() + self.latency_s, data))
            return
        self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        if self.closed:
            return
        if self._out:
            self._flush_out()
        if self.pending or self.stalled:
            self.pending.append(data)
            if len(self.pending) > MAX_STALLED_FRAMES:
                self.abort()
            return
        self._write(data)

    def send_frame(self, data: bytes, frame: bytes) -> None:
        """Queue one text frame whose wire bytes were built once for every subscriber.

        ``frame`` is ``ws_internals.text_frame(data)``: a fan-out builds it once per push and
        each connection writes the same bytes. The first frame of a turn of the event loop is
        written at once; the ones that follow in the same turn (a burst) go out together in one
        socket write at its end, not one system call each. Anything else sent meanwhile flushes
        them first, so order is kept. A connection that cannot take the bytes as they are (an
        extension was negotiated, a stall holds its output, latency is simulated) gets ``data`` the
        usual way.
        """
        if self.closed:
            return
        if self.pending or self.stalled or self.latency_s:
            self.send_bytes(data)
            return
        out = self._out
        if out is not None:
            out.append((data, frame))
            return
        self._out = []
        asyncio.get_running_loop().call_soon(self._flush_out)
        self._write_frames([(data, frame)])

    def _flush_out(self) -> None:
        out, self._out = self._out, None
        if out and not self.closed:
            self._write_frames(out)

    def _write_frames(self, frames: list[tuple[bytes, bytes]]) -> None:
        ws = self.ws
        try:
            written = wsi.write_frame_directly(ws, frames[0][1] if len(frames) == 1
                                               else b"".join([frame for _, frame in frames]))
        except Exception:  # the socket died under us: the handler will clean up
            self.abort()
            return
        if not written:
            for data, _ in frames:
                self._write(data)
            return
        self.frames_sent += len(frames)
        self.last_active = time.monotonic()
        if wsi.buffered_bytes(ws) > MAX_BUFFER:
            self.abort()

    def _write(self, data: bytes) -> None:
        ws = self.ws
        if not wsi.is_open(ws):
            return
        try:
            wsi.write_text_now(ws, data)
        except Exception:  # the socket died under us: the handler will clean up
            self.abort()
            return
        self.frames_sent += 1
        self.last_active = time.monotonic()
        if wsi.buffered_bytes(ws) > MAX_BUFFER:
            self.abort()

    def reply_later(self, frame: dict[str, Any], delay_s: float) -> None:
        """Send a reply frame ``delay_s`` seconds from now (the server's clock releases it)."""
        self.late.append((time.monotonic() + delay_s, dumps(frame).encode()))

    def release_late(self, now: float) -> None:
        """Send the held-back replies and the frames in flight that are due, each in order."""
        while self.in_flight and self.in_flight[0][0] <= now:
            self._deliver(self.in_flight.popleft()[1])
        while self.late and self.late[0][0] <= now:
            self.send_bytes(self.late.pop(0)[1])

    def flush(self) -> None:
        """Send frames held by an expired stall."""
        if self.stalled:
            return
        while self.pending and not self.closed:
            self._write(self.pending.popleft())

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (the client sees code 1006)."""
        self.closed = True
        self.pending.clear()
        wsi.abort(self.ws)

    def remember_req_id(self, req_id: Any, keep: int = 10_000) -> bool:
        """Record a trade ``reqId``; False if this connection used it before."""
        key = (type(req_id).__name__, str(req_id))
        if key in self.req_ids:
            return False
        self.req_ids.add(key)
        self.req_order.append(key)
        if len(self.req_order) > keep:
            self.req_ids.discard(self.req_order.popleft())
        return True
