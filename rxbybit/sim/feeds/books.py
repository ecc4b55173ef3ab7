"""Book feeds: ``orderbook.{depth}.{symbol}`` and the legacy spot v3 ``orderbook.40`` and ``bookticker``.

A book feed keeps the state it last pushed, so ``u`` is contiguous per topic, every subscriber
sees the same ``u``, a late subscriber gets a snapshot of exactly what the others hold, and tests
can read the published book as ground truth.
"""

from __future__ import annotations

import zlib
from typing import Final

from ...protocol.endpoints import Endpoint
from ...protocol.topics import BOOK_PUSH_MS
from ..market import Market
from ..orderbook import Book, BookWatch, Side
from ..pushes import book_push, v3_book_push, v3_bookticker_push
from .base import Feed

LEVEL1_REPUSH_MS: Final = 3_000
"""A level-1 book that did not change is pushed again (same ``u``) after this long."""

Levels = list[tuple[float, float]]


class BookFeed(Feed):
    """``orderbook.{depth}.{symbol}``: snapshot then contiguous deltas (level 1: snapshots only)."""

    order = 1

    def __init__(self, topic: str, endpoint: Endpoint, market: Market, depth: int) -> None:
        super().__init__(topic, endpoint)
        self.market = market
        self.depth = depth
        self.period_ms = BOOK_PUSH_MS.get(depth, 100)
        # real update ids are large; starting at 1 would read as a service restart (u == 1)
        self.u = 10_000_000 + zlib.crc32(f"{market.seed}:{topic}".encode()) % 90_000_000
        self.seq = 0
        self.cts = 0
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.last_push_ms = 0
        self.skip = 0
        """Pending ``u`` gaps to inject (fault: skip a delta)."""
        self.snapshot_only = depth == 1
        self._ts_first = endpoint == "spot" or depth == 1
        self._watch: BookWatch | None = None
        self._texts: dict[int, str] = {}
        """Wire text of price units (keys >= 0) and size units (keys -1 - size), see :meth:`_rows`."""

    def _capture(self, now_ms: int) -> None:
        m = self.market
        if self._watch is None:
            self._watch = m.book.watch()
        self._watch.clear()
        self.bids = dict(m.book.top("Buy", self.depth))
        self.asks = dict(m.book.top("Sell", self.depth))
        self.seq = m.seq
        self.cts = m.now
        self.last_push_ms = now_ms

    def activate(self, now_ms: int) -> None:
        self.u += 1
        self._capture(now_ms)

    def on_subscribe(self, now_ms: int) -> list[str]:
        return [self.snapshot_frame(now_ms)]

    def restart(self, now_ms: int) -> list[str]:
        """Fault: the book service restarted; re-send as a ``u == 1`` snapshot."""
        self.skip = 0
        if not self.active:
            self.u = 0
            return []
        self.u = 1
        self._capture(now_ms)
        return [self.snapshot_frame(now_ms)]

    def _levels(self, side: dict[int, int], reverse: bool) -> list[list[str]]:
        return self._rows([(p, side[p]) for p in sorted(side, reverse=reverse)])

    def _rows(self, levels: list[tuple[int, int]]) -> list[list[str]]:
        """``(price, size)`` units as Bybit's ``[price, size]`` text, formatted once per value seen."""
        texts = self._texts
        if len(texts) > 8192:  # bounded: prices near the touch and recent sizes come back all the time
            texts.clear()
        inst = self.market.inst
        out = []
        for p, q in levels:
            pt = texts.get(p)
            if pt is None:
                pt = texts[p] = inst.px(p)
            qt = texts.get(-1 - q)  # sizes keyed apart from prices (both are non-negative units)
            if qt is None:
                qt = texts[-1 - q] = inst.size(q)
            out.append([pt, qt])
        return out

    def _frame(self, kind: str, now_ms: int, bids: list[list[str]], asks: list[list[str]]) -> str:
        return book_push(self.topic, kind, now_ms, self.market.inst.symbol, bids, asks, self.u, self.seq, self.cts,
                           ts_first=self._ts_first)

    def snapshot_frame(self, now_ms: int) -> str:
        """The last pushed state as a snapshot."""
        return self._frame("snapshot", now_ms, self._levels(self.bids, True), self._levels(self.asks, False))

    def tick(self, now_ms: int) -> list[str]:
        m = self.market
        w = self._watch
        if w is not None and not w.moved:  # same levels as last push: diff only the prices touched
            pb, pa = w.prices["Buy"], w.prices["Sell"]
            db = _resized(m.book, "Buy", pb, self.bids) if pb else {}
            da = _resized(m.book, "Sell", pa, self.asks) if pa else {}
            w.clear()
        else:  # levels came or went: the best `depth` may be other prices, compare them all
            bids = dict(m.book.top("Buy", self.depth))
            asks = dict(m.book.top("Sell", self.depth))
            db = _diff(self.bids, bids)
            da = _diff(self.asks, asks)
            if w is not None:
                w.clear()
            self.bids, self.asks = bids, asks
        if not db and not da:
            if self.snapshot_only and now_ms - self.last_push_ms >= LEVEL1_REPUSH_MS:
                self._restamp(now_ms)
                return [self.snapshot_frame(now_ms)]
            return []
        self.u += 1 + self.skip
        self.skip = 0
        self.seq, self.cts, self.last_push_ms = max(m.seq, self.seq), max(m.now, self.cts), now_ms
        if self.snapshot_only:
            return [self.snapshot_frame(now_ms)]
        return [self._frame(
            "delta", now_ms,
            self._rows(sorted(db.items(), reverse=True)) if db else [],
            self._rows(sorted(da.items())) if da else [],
        )]

    def _restamp(self, now_ms: int) -> None:
        """A re-pushed level-1 book keeps its ``u`` but gets a new ``seq`` and ``cts`` (observed)."""
        self.seq = max(self.market.seq, self.seq + 1)
        self.cts = max(self.market.now, self.cts + 1)
        self.last_push_ms = now_ms

    def published(self) -> tuple[int, Levels, Levels]:
        """``(u, bids, asks)`` exactly as last pushed, best first, as floats."""
        inst = self.market.inst
        return (
            self.u,
            [(inst.pxf(p), inst.qtyf(self.bids[p])) for p in sorted(self.bids, reverse=True)],
            [(inst.pxf(p), inst.qtyf(self.asks[p])) for p in sorted(self.asks)],
        )


def _resized(book: Book, side: Side, prices: set[int], shown: dict[int, int]) -> dict[int, int]:
    """New sizes of the ``prices`` among the ``shown`` levels (updated in place); others are deeper."""
    out = {}
    for p in prices:
        old = shown.get(p)
        if old is not None:
            s = book.size(side, p)
            if s != old:
                out[p] = shown[p] = s
    return out


def _diff(old: dict[int, int], new: dict[int, int]) -> dict[int, int]:
    out = {p: s for p, s in new.items() if old.get(p) != s}
    for p in old:
        if p not in new:
            out[p] = 0
    return out


class V3BookFeed(BookFeed):
    """Legacy spot v3 ``orderbook.40.{symbol}``: a snapshot every 100 ms when it changed."""

    def __init__(self, topic: str, market: Market) -> None:
        super().__init__(topic, "spot_v3_public", market, 40)
        self.period_ms = 100
        self.snapshot_only = True

    def snapshot_frame(self, now_ms: int) -> str:
        return v3_book_push(self.topic, now_ms, self.market.inst.symbol, self.cts, self._levels(self.bids, True),
                              self._levels(self.asks, False))


class BookTickerFeed(Feed):
    """Legacy spot v3 ``bookticker.{symbol}``: best bid and ask every 100 ms when they changed."""

    order = 1
    period_ms = 100

    def __init__(self, topic: str, market: Market) -> None:
        super().__init__(topic, "spot_v3_public")
        self.market = market
        self.last: tuple[tuple[int, int], ...] = ()

    def _frame(self, now_ms: int) -> str:
        book = self.market.book
        bid, ask = book.touch("Buy"), book.touch("Sell")
        self.last = (bid, ask)
        return v3_bookticker_push(self.topic, now_ms, self.market.inst, bid, ask, self.market.now)

    def on_subscribe(self, now_ms: int) -> list[str]:
        return [self._frame(now_ms)]

    def tick(self, now_ms: int) -> list[str]:
        book = self.market.book
        cur = (book.touch("Buy"), book.touch("Sell"))
        return [] if cur == self.last else [self._frame(now_ms)]
