"""Fault injection for the simulator, callable from tests and from the ``rxbybit sim`` prompt.

Every fault is bounded: it hits the connections open now (or the next matching request) and
ends by itself or by a call that turns it off. ``path=None`` means every connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from typing import Final, Protocol

from ..protocol import replies
from ..protocol.endpoints import Category
from .conn import Conn

MALFORMED_FRAME: Final = '{"topic":"orderbook.50.BTCUSDT","type":"delta","data":{"s":"BTCUSDT","b":[["6'
"""What :meth:`Faults.send_malformed` sends: a frame cut off in the middle (not valid JSON)."""


class BookFaults(Protocol):
    """Where the book faults act: the simulator's public feeds."""

    def skip_delta(self, category: Category, topic: str) -> None:
        """Make the next delta of ``topic`` jump ``u`` by 2."""

    def restart_books(self, category: Category, symbol: str) -> int:
        """Restart every depth of ``symbol``'s book at ``u == 1``; returns feeds hit."""


class TradeKnobs:
    """Trade-socket behaviours the faults switch on; :class:`~.trade_api.TradeDesk` reads them."""

    def __init__(self) -> None:
        self.denials = 0
        """Next trade requests answered by Bybit's reqId-less ``10005`` (``op: auth``, no ``data``)."""
        self.restarting = False
        """True while the trade service restarts: new requests get ``10019`` (in-flight ones finished)."""
        self.session_limit: int | None = None
        """Trade sessions an account may hold; one more ``auth`` gets ``10003`` (None: no limit)."""


class Faults:
    """The fault switches of one :class:`~rxbybit.sim.Simulator` (``sim.faults``).

    ``connections`` is the live set of the simulator's connections; ``books`` its public feeds.
    """

    def __init__(self, connections: Collection[Conn], books: BookFaults) -> None:
        self._connections = connections
        self._books = books
        self._silent_paths: set[str | None] = set()
        self.rejects: dict[str, tuple[str, int]] = {}
        """topic -> (error message, remaining count) for :meth:`reject_subscribe`."""
        self.idle_limits: dict[str | None, float] = {}
        self.trade = TradeKnobs()
        """The trade-socket switches (see the ``trade_*`` methods)."""
        self.option_unsubscribe_op = True
        """(unconfirmed) Whether the option socket's unsubscribe ``COMMAND_RESP`` names ``op``; False
        sends it op-less, like the subscribe ack (Bybit's shape is not known for sure)."""

    def _conns(self, path: str | None) -> list[Conn]:
        return [c for c in self._connections if path is None or c.path == path]

    async def drop_connections(self, path: str | None = None) -> int:
        """Abort matching connections without a close frame; returns how many were dropped."""
        conns = self._conns(path)
        for c in conns:
            c.abort()
        await asyncio.sleep(0)
        return len(conns)

    def silent(self, path: str | None = None, on: bool = True) -> int:
        """Stop (``on=True``) or resume answering JSON and protocol pings; returns connections hit.

        New connections on a silent path are silent too, until switched off.
        """
        if on:
            self._silent_paths.add(path)
        else:
            self._silent_paths.discard(path)
            if path is None:
                self._silent_paths.clear()
        conns = self._conns(path)
        for c in self._connections:
            c.silent = self.is_silent_path(c.path)
        return len(conns)

    def is_silent_path(self, path: str) -> bool:
        """True when connections on ``path`` must not answer pings."""
        return None in self._silent_paths or path in self._silent_paths

    def skip_delta(self, category: Category, topic: str) -> None:
        """Make the next delta of ``topic`` jump ``u`` by 2 (a gap clients must detect)."""
        self._books.skip_delta(category, topic)

    def restart_book(self, category: Category, symbol: str) -> int:
        """Re-send every depth of ``symbol``'s book as a ``u == 1`` snapshot; returns feeds hit."""
        return self._books.restart_books(category, symbol)

    async def send_malformed(self, path: str | None = None, frame: str = MALFORMED_FRAME) -> int:
        """Send a broken (non-JSON) text frame to each matching connection; returns how many."""
        conns = self._conns(path)
        for c in conns:
            c.send_text(frame)
        await asyncio.sleep(0)
        return len(conns)

    def stall(self, path: str | None = None, seconds: float = 2.0) -> int:
        """Hold every frame to matching connections for ``seconds``, then deliver them in order."""
        if not 0 < seconds <= 600:
            raise ValueError(f"stall seconds must be in (0, 600], got {seconds!r}")
        until = time.monotonic() + seconds
        conns = self._conns(path)
        for c in conns:
            c.stalled_until = until
        return len(conns)

    def reject_subscribe(self, topic: str, message: str | None = None, times: int = 1) -> None:
        """Answer the next ``times`` subscribes of ``topic`` with ``message`` (Bybit's error text)."""
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times!r}")
        self.rejects[topic] = (message or replies.handler_not_found(topic), times)

    def take_reject(self, topic: str) -> str | None:
        """Consume one pending rejection of ``topic`` (used by the desks)."""
        entry = self.rejects.get(topic)
        if entry is None:
            return None
        message, left = entry
        if left <= 1:
            del self.rejects[topic]
        else:
            self.rejects[topic] = (message, left - 1)
        return message

    def idle_timeout(self, path: str | None = None, seconds: float = 600.0) -> int:
        """Close matching connections idle (no ping/pong, no pushed data) for ``seconds``.

        Applies to open and future connections of ``path``; returns the open ones it hit.
        """
        if seconds <= 0:
            raise ValueError(f"idle timeout must be positive, got {seconds!r}")
        self.idle_limits[path] = seconds
        conns = self._conns(path)
        for c in conns:
            c.max_idle_s = seconds
        return len(conns)

    def idle_limit_for(self, path: str) -> float | None:
        """The idle limit a new connection on ``path`` gets from this object, if any."""
        return self.idle_limits.get(path, self.idle_limits.get(None))

    def deny_trade_requests(self, times: int = 1) -> None:
        """Answer the next ``times`` trade requests with Bybit's permission rejection, which carries no
        ``reqId`` and no ``data`` and says ``op: auth`` (observed: ``{"retCode":10005,"retMsg":"Permission
        denied for current apikey","op":"auth","connId":...}``). A client that waits for its ``reqId`` hangs."""
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times!r}")
        self.trade.denials += times

    def trade_restarting(self, on: bool = True) -> None:
        """While on, new trade requests get ``10019`` (service restarting; requests already answered
        stand) and the client should open a new connection."""
        self.trade.restarting = on

    def trade_session_limit(self, sessions: int | None) -> None:
        """At most ``sessions`` authenticated trade sockets per account; one more ``auth`` gets ``10003``
        "Too many sessions under the same UID" (None: no limit, the default)."""
        if sessions is not None and sessions < 1:
            raise ValueError(f"sessions must be at least 1 or None, got {sessions!r}")
        self.trade.session_limit = sessions

    def clear(self) -> None:
        """Switch every standing fault off (stalls and pending gaps run out by themselves)."""
        self.trade.denials, self.trade.restarting, self.trade.session_limit = 0, False, None
        self._silent_paths.clear()
        self.rejects.clear()
        self.idle_limits.clear()
        for c in self._connections:
            c.silent = False
            c.stalled_until = 0.0
            c.flush()
