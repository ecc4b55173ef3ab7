"""The public feed registry: one feed per (endpoint, topic), which of them are live, and how frames reach subscribers.

Feeds are created on first use and kept (a book feed keeps its ``u`` across subscribers). The
registry knows which feeds have subscribers, pushes the due ones on each clock cycle, and serves
the ground-truth and fault hooks on books (``published``, ``skip_delta``, ``restart_books``) and
the benchmark load (``burst``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Final

from ..protocol.endpoints import CATEGORIES, Category, Endpoint
from ..protocol.topics import parse
from ..transport import ws_internals as wsi
from .clock import VirtualTime
from .conn import Conn
from .feeds import BookFeed, Feed, Sink, make_feed
from .market import Market

Levels = list[tuple[float, float]]
DRAIN_ABOVE_BYTES: Final = 2**20
"""``burst`` waits while a subscriber has more than this unread."""


def broadcast(conns: Iterable[Sink], frames: list[str]) -> None:
    """Write ``frames`` to every connection in ``conns``, in order.

    Each frame is encoded once, websocket header included, and the same bytes go to every
    subscriber (:meth:`Conn.send_frame`).
    """
    encoded = [(data, wsi.text_frame(data)) for data in (f.encode() for f in frames)]
    for c in list(conns):
        if isinstance(c, Conn):
            for data, wire in encoded:
                c.send_frame(data, wire)
        else:
            for f in frames:
                c.send_text(f)


class FeedRegistry:
    """Every public feed of one simulator, keyed by endpoint and topic."""

    def __init__(self, markets: Mapping[Category, Mapping[str, Market]], vtime: VirtualTime) -> None:
        self.markets = markets
        self.time = vtime
        self._feeds: dict[tuple[Endpoint, str], Feed] = {}
        self._active: list[Feed] = []

    def _market_map(self, endpoint: Endpoint) -> Mapping[str, Market]:
        if endpoint == "spot_v3_public":
            return self.markets["spot"]
        return self.markets[endpoint]  # type: ignore[index]

    def underlying_price(self, base: str) -> float:
        """Index price of a base coin for options: the linear market's mid."""
        for m in self.markets["linear"].values():
            if m.inst.base == base:
                return m.inst.pxf(m.mid() or m.ref)
        return 0.0

    def feed(self, endpoint: Endpoint, topic: str) -> Feed:
        """The feed of ``topic`` on ``endpoint`` (created on first use); raises ``ValueError``."""
        key = (endpoint, topic)
        feed = self._feeds.get(key)
        if feed is None:
            parsed = parse(topic, endpoint)
            feed = make_feed(parsed, self._market_map(endpoint), self.markets["option"].values(),
                             self.underlying_price)
            self._feeds[key] = feed
        return feed

    def book_feed(self, category: Category, topic: str) -> BookFeed:
        """The order book feed of ``topic``; raises ``ValueError`` if it is not a book topic."""
        feed = self.feed(category, topic)
        if not isinstance(feed, BookFeed):
            raise ValueError(f"{topic!r} is not an order book topic")
        return feed

    # ------------------------------------------------------------------ subscribers

    def add_subscriber(self, feed: Feed, conn: Sink) -> list[str]:
        """Subscribe ``conn`` (activating the feed if it was idle); returns the frames it gets first."""
        if not feed.active:
            now = self.time.now_ms()
            feed.activate(now)
            feed.next_due = (self.time.vt // feed.period_ms + 1) * feed.period_ms
            self._active.append(feed)
            self._active.sort(key=lambda f: f.order)
        frames = feed.on_subscribe(self.time.now_ms())
        feed.subscribers.add(conn)
        return frames

    def remove_subscriber(self, feed: Feed, conn: Sink) -> None:
        """Unsubscribe ``conn``; an idle feed stops being pushed."""
        feed.subscribers.discard(conn)
        if not feed.subscribers and feed in self._active:
            self._active.remove(feed)

    def clear_subscribers(self) -> None:
        """Every connection is gone (server down): no feed has subscribers any more."""
        for feed in self._feeds.values():
            feed.subscribers.clear()
        self._active = []

    def push_due(self, vt: float, now_ms: int) -> None:
        """Push every live feed whose cadence point has come (one clock cycle)."""
        for feed in self._active:
            if vt >= feed.next_due:
                feed.next_due = (vt // feed.period_ms + 1) * feed.period_ms
                frames = feed.tick(now_ms)
                if frames:
                    broadcast(feed.subscribers, frames)

    # ------------------------------------------------------------------ books: truth, faults, load

    def published(self, category: Category, topic: str) -> tuple[int, Levels, Levels]:
        """``(u, bids, asks)`` of ``topic`` exactly as last pushed (ground truth for tests)."""
        return self.book_feed(category, topic).published()

    def skip_delta(self, category: Category, topic: str) -> None:
        """Fault: the next delta of ``topic`` jumps ``u`` by 2."""
        self.book_feed(category, topic).skip += 1

    def restart_books(self, category: Category, symbol: str) -> int:
        """Fault: every depth of ``symbol``'s book restarts at ``u == 1``; returns feeds hit."""
        if category not in CATEGORIES or symbol not in self.markets[category]:
            raise ValueError(f"no simulated {category} market {symbol!r}")
        now = self.time.now_ms()
        hit = 0
        for (ep, _topic), feed in self._feeds.items():
            if ep == category and isinstance(feed, BookFeed) and feed.market.inst.symbol == symbol:
                frames = feed.restart(now)
                hit += 1
                if frames:
                    broadcast(feed.subscribers, frames)
        return hit

    async def burst(self, category: Category, topic: str, n: int, rate: float | None = None) -> int:
        """Load for benchmarks: push ``n`` book deltas of ``topic`` to its subscribers.

        ``rate`` caps the pushes per second (None: as fast as possible). Returns frames pushed
        (per subscriber). The deltas are real changes of the book, so books stay consistent.
        """
        feed = self.book_feed(category, topic)
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n!r}")
        market = feed.market
        sent = 0
        start = time.monotonic()
        for i in range(n):
            market.perturb(feed.depth)
            frames = feed.tick(self.time.now_ms())
            if frames and feed.subscribers:
                broadcast(feed.subscribers, frames)
                sent += len(frames)
            if rate is not None:
                delay = start + (i + 1) / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                    continue
            if i % 64 == 63:
                await _drain(feed.subscribers)
        await _drain(feed.subscribers)
        return sent


async def _drain(conns: Iterable[Sink]) -> None:
    await asyncio.sleep(0)
    for c in list(conns):
        if not isinstance(c, Conn):
            continue
        while not c.closed and wsi.buffered_bytes(c.ws) > DRAIN_ABOVE_BYTES:
            await asyncio.sleep(0.001)
