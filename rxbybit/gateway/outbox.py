"""How a session's frames reach its websocket: written now, a burst coalesced into one socket write.

Fan-out hands every subscriber the same bytes, built once per upstream message (JSON envelope and
RFC 6455 frame: :func:`rxbybit.transport.ws_internals.text_frame`). What it costs per delivered
message is then mostly the system call that copies those bytes into the subscriber's socket:
about 6-7 us of kernel time for a 1.5 KB frame on loopback, against 1-1.5 us of Python around it
(``bench_gateway.py`` and the numbers in ``bench/README.md``). So a :class:`WsOutbox` writes the first
frame of a turn of the event loop at once (no added latency) and keeps the ones that follow in
the same turn, which is what a gateway that has fallen behind sees (one upstream read carries
several messages), for one socket write at the end of the turn. The busier the gateway, the
fewer system calls per message. The simulator's connections do the same (``sim/conn.py``).

Order is kept: an ack, error or status frame, and the close handshake, first write what is kept.
Kept bytes count as unsent (:meth:`WsOutbox.buffered`), so the session's caps see them.
"""

from __future__ import annotations

import asyncio
import logging

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from ..transport.ws_internals import abort, buffered_bytes, is_open, write_frame_directly

log = logging.getLogger("rxbybit.gateway")


class Turn:
    """Which turn of the event loop this is, and the outboxes that kept frames for its end.

    One per gateway: a single ``call_soon`` a turn in which anything was written, however many
    connections were; an outbox that wrote one frame this turn costs nothing at its end.
    """

    __slots__ = ("_kept", "_loop", "number", "open")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.number = 0
        """Counts turns in which something was written (an outbox notes the turn of its last write)."""
        self.open = False
        """True once something was written this turn (its end is scheduled)."""
        self._kept: list[WsOutbox] = []

    def start(self) -> None:
        """Something is written this turn: schedule its end."""
        self.open = True
        self._loop.call_soon(self._end)

    def keep(self, outbox: WsOutbox) -> None:
        """``outbox`` keeps frames for the end of this turn."""
        self._kept.append(outbox)

    def _end(self) -> None:
        self.open = False
        self.number += 1
        kept, self._kept = self._kept, []
        for outbox in kept:
            try:
                outbox.flush()
            except Exception:
                log.exception("writing kept frames failed for one connection")


class WsOutbox:
    """A session's writer: synchronous frame writes on the event loop, as ``broadcast`` does."""

    __slots__ = ("_close_timeout", "_closing", "_kept", "_kept_bytes", "_turn", "_written", "ws")

    def __init__(self, ws: ServerConnection, close_timeout: float, turn: Turn) -> None:
        self.ws = ws
        self._close_timeout = close_timeout
        self._closing: asyncio.Task[None] | None = None
        self._turn = turn
        self._written = -1
        """The turn in which this outbox last wrote a frame straight away."""
        self._kept: list[tuple[bytes, bytes]] | None = None
        """Frames (payload, wire) kept for the end of this turn."""
        self._kept_bytes = 0

    def send(self, data: str | bytes) -> None:
        """Write one frame now (after what is kept); nothing once the connection is going away."""
        if self._kept:
            self.flush()
        if is_open(self.ws):
            broadcast((self.ws,), data, text=True)

    def send_wire(self, data: bytes, wire: bytes) -> None:
        """Write the pre-encoded frame: now if it is this turn's first, else at the end of the turn."""
        turn = self._turn
        if turn.open and self._written == turn.number:
            kept = self._kept
            if kept is None:
                kept = self._kept = []
                turn.keep(self)
            kept.append((data, wire))
            self._kept_bytes += len(wire)
            return
        if not turn.open:
            turn.start()
        self._written = turn.number
        if not write_frame_directly(self.ws, wire):
            self._fallback(data)

    def flush(self) -> None:
        """Write the frames kept this turn, as one socket write."""
        kept, self._kept = self._kept, None
        self._kept_bytes = 0
        if not kept:
            return
        if write_frame_directly(self.ws, kept[0][1] if len(kept) == 1 else b"".join([w for _, w in kept])):
            return
        for data, _ in kept:
            self._fallback(data)

    def _fallback(self, data: bytes) -> None:
        # the bytes would not be what the library sends (or the connection is going away)
        if is_open(self.ws):
            broadcast((self.ws,), data, text=True)

    def buffered(self) -> int:
        """Bytes not yet read by the client: in the socket's buffer, and kept for the end of the turn."""
        return buffered_bytes(self.ws) + self._kept_bytes

    def close(self, code: int, reason: str) -> None:
        """Start the close handshake; cut the connection if it has not ended within the timeout."""
        if self._kept:
            self.flush()
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(self._close_timeout):
                await self.ws.close(code, reason[:120])
        except (TimeoutError, ConnectionClosed):
            pass
        if self.ws.state is not State.CLOSED:
            abort(self.ws)
