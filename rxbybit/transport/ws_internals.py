"""The one module that reaches into websockets' internals, and the versions it is known to work with.

rxbybit uses five things the websockets library does not document as public API, each for a
measured reason:

* ``Connection.process_event``: the client takes complete text frames straight from the protocol
  callback, skipping the library's message queue and a task switch per frame (the client kept
  pace with 50,000 msgs/s with it, about 40,000 without).
* ``ServerConnection.protocol.send_text`` + ``send_data``: the simulator writes a frame without
  awaiting, as ``websockets.broadcast`` does, so replies and pushes keep their order.
* ``protocol.send_frame``: the simulator's "silent server" fault swallows pong frames.
* ``transport``: its write-buffer size (slow-reader limits) and ``abort()`` (a drop without a close
  frame, which is what a real outage looks like).
* ``protocol.extensions``, ``send_in_progress`` and ``transport.write``: the gateway encodes an
  event's frame once and writes the same bytes to every subscriber that negotiated no extension
  (about 12-19 % less gateway CPU per message than ``broadcast``; numbers in ``gateway/server.py``).

Nothing else in rxbybit touches these names. :data:`SUPPORTED` is the range ``pyproject.toml``
pins, and ``tests/transport/test_ws_internals.py`` checks every hook below still exists.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
from collections.abc import Callable
from typing import Any, Final

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.connection import Connection
from websockets.frames import Frame, Opcode
from websockets.protocol import State

SUPPORTED: Final = (15, 18)
"""websockets major versions known to work: ``15 <= major < 18`` (pyproject pins the same)."""


def version() -> tuple[int, int]:
    """The installed websockets ``(major, minor)``."""
    parts = [int(p) if p.isdigit() else 0 for p in importlib.metadata.version("websockets").split(".")]
    parts += [0, 0]
    return parts[0], parts[1]


class DirectConnection(ClientConnection):
    """A client connection that hands each complete text frame to ``on_text`` straight from the
    protocol callback, skipping the library's message queue and its per-message task switch.

    Bybit sends one message a frame. The first frame this path does not handle (a fragment, a
    binary frame) switches the connection to the library's own queue for good, so messages are
    never reordered; the reader loop then picks them up with ``recv``. Without ``on_text`` this is
    a plain ``ClientConnection``.
    """

    on_text: Callable[[bytes | bytearray | memoryview], None] | None = None
    direct = True

    def process_event(self, event: Any) -> None:
        # anything unexpected goes to the library's path unchanged
        if self.direct and self.on_text is not None and getattr(self, "response", None) is not None \
                and isinstance(event, Frame):
            opcode = event.opcode
            if opcode is Opcode.TEXT and event.fin:
                self.on_text(event.data)
                return
            if opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                self.direct = False
        super().process_event(event)


def is_open(ws: Connection) -> bool:
    """True while ``ws`` may still send data frames: open, and its TCP connection not already going away
    (after a reset or an abort websockets still says OPEN until a later loop iteration)."""
    transport = ws.transport
    return ws.protocol.state is State.OPEN and transport is not None and not transport.is_closing()


def write_text_now(ws: Connection, data: bytes) -> None:
    """Write one UTF-8 text frame into ``ws``'s socket buffer without awaiting (order is kept).

    Raises whatever the socket raises when it died under us; a closed ``ws``, or one whose TCP
    connection is already going away (websockets has not heard yet), writes nothing.
    """
    if not is_open(ws):
        return
    ws.protocol.send_text(data)
    ws.send_data()


def buffered_bytes(ws: Connection) -> int:
    """Bytes written to ``ws`` that the peer has not read yet (0 once the socket is gone)."""
    transport = ws.transport
    return 0 if transport is None else int(transport.get_write_buffer_size())


def abort(ws: Connection) -> None:
    """Drop the TCP connection at once, without a close frame (the peer sees code 1006)."""
    transport = ws.transport
    if transport is not None:
        with contextlib.suppress(Exception):
            transport.abort()


def on_pong_sent(ws: Connection, hook: Callable[[], bool]) -> None:
    """Call ``hook`` before each pong frame ``ws`` sends; the pong is swallowed when it returns False."""
    protocol = ws.protocol
    original = protocol.send_frame

    def send_frame(frame: Frame) -> None:
        if frame.opcode is Opcode.PONG and not hook():
            return
        original(frame)

    protocol.send_frame = send_frame  # type: ignore[method-assign]


def text_frame(payload: bytes) -> bytes:
    """``payload`` as one unmasked, unfragmented RFC 6455 text frame (what a server sends).

    Without extensions these bytes are the same for every connection, so a fan-out encodes an
    event once and hands the same bytes to :func:`write_frame_directly` for each subscriber.
    """
    n = len(payload)
    if n < 126:
        head = bytes((0x81, n))
    elif n < 65_536:
        head = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return head + payload


def write_frame_directly(ws: Connection, frame: bytes) -> bool:
    """Write ``frame`` (from :func:`text_frame`) straight into ``ws``'s socket buffer, without awaiting.

    Done only while ``ws`` is open, negotiated no extension (so the bytes are what the library
    would have written) and is not in the middle of a fragmented message; the protocol object never
    sees the frame, and a server data frame changes none of its state. Returns False, having
    written nothing, when the caller must send the message the library's way (``broadcast``), and
    when the TCP connection is already going away (asyncio would count the write and, from the
    fifth, log a warning for every frame of a fan-out).
    The gateway's fan-out uses this: the measured gain is in ``rxbybit/gateway/server.py``.
    """
    protocol = ws.protocol
    transport = ws.transport
    if protocol.state is not State.OPEN or protocol.extensions or ws.send_in_progress is not None \
            or transport is None or transport.is_closing():
        return False
    transport.write(frame)
    return True
