"""OrderBook: a local copy of one Bybit order book, kept by snapshot/delta rules.

Rules (see the protocol reference, section 6.2):

* a snapshot replaces the book; a snapshot with ``u == 1`` means Bybit restarted the service;
* a delta level with size 0 deletes the price, an unknown price is inserted, a known one replaced;
* deltas must be contiguous (``u == last_u + 1``); an older or repeated ``u`` is ignored; a jump
  marks the book as needing a resync and further deltas are refused until a snapshot arrives;
* the book never holds more than its depth per side; a crossed book also needs a resync.

Views handed out by :meth:`OrderBook.view` are immutable: a view shares the book's storage, and
the book copies a side before changing it while a view still holds it (copy-on-write, told by the
side's reference count), so a view costs next to nothing to take and never changes afterwards.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from enum import StrEnum
from sys import getrefcount
from typing import TYPE_CHECKING

import numpy as np

from .events import BookUpdate, Level

if TYPE_CHECKING:
    from numpy.typing import NDArray


class _Probe:
    __slots__ = ("side",)

    side: dict[float, float]


def _alone_count() -> int:
    """What ``getrefcount`` says of a slot's value that nothing else holds, read the way ``apply``
    reads it (measured once, so an interpreter that counts its own references differently still
    tells a side a view shares from one it does not)."""
    probe = _Probe()
    probe.side = {}
    return getrefcount(probe.side)


_ALONE = _alone_count()


class Applied(StrEnum):
    """What :meth:`OrderBook.apply` did with an update."""

    SNAPSHOT = "snapshot"
    """The book was replaced."""
    RESTART = "restart"
    """A ``u == 1`` snapshot: Bybit restarted the book; it was replaced."""
    DELTA = "delta"
    """A contiguous delta was applied."""
    STALE = "stale"
    """An old or repeated ``u``: ignored, the book is unchanged."""
    GAP = "gap"
    """A ``u`` jump: the book is now out of sync and waits for a snapshot."""
    CROSSED = "crossed"
    """After the update (delta or snapshot) the best bid reached the best ask: the book waits for a snapshot."""
    REFUSED = "refused"
    """A delta while out of sync (or before the first snapshot): ignored."""

    @property
    def changed(self) -> bool:
        """True when the book now holds new, valid state to show."""
        return self is _DELTA or self is _SNAPSHOT or self is _RESTART  # identity: members are singletons


class _BookReader:
    """Read-only queries shared by :class:`OrderBook` and :class:`BookView`.

    Each side keeps its prices in one ascending list (so ``bisect`` works on plain floats, with
    no negated copies): the best bid is the *last* bid price, the best ask the *first* ask price.
    Sizes live in a price-keyed dict per side.
    """

    __slots__ = ("__weakref__", "_ask", "_ask_px", "_bid", "_bid_px", "depth", "seq", "symbol", "ts", "u")

    symbol: str
    depth: int
    u: int
    seq: int
    ts: int
    _bid_px: list[float]
    _ask_px: list[float]
    _bid: dict[float, float]
    _ask: dict[float, float]

    @property
    def best_bid(self) -> Level | None:
        """``(price, size)`` of the highest bid, or None if there are no bids."""
        if not self._bid_px:
            return None
        p = self._bid_px[-1]
        return (p, self._bid[p])

    @property
    def best_ask(self) -> Level | None:
        """``(price, size)`` of the lowest ask, or None if there are no asks."""
        if not self._ask_px:
            return None
        p = self._ask_px[0]
        return (p, self._ask[p])

    @property
    def mid(self) -> float | None:
        """Midpoint of best bid and ask, or None if a side is empty."""
        if not self._bid_px or not self._ask_px:
            return None
        return (self._ask_px[0] + self._bid_px[-1]) / 2

    @property
    def spread(self) -> float | None:
        """Best ask minus best bid, or None if a side is empty."""
        if not self._bid_px or not self._ask_px:
            return None
        return self._ask_px[0] - self._bid_px[-1]

    @property
    def crossed(self) -> bool:
        """True when the best bid is at or above the best ask."""
        return bool(self._bid_px and self._ask_px and self._bid_px[-1] >= self._ask_px[0])

    def bids(self, n: int | None = None) -> list[Level]:
        """Top ``n`` bids (all if None), best first, as ``(price, size)``."""
        px = self._bid_px
        top = px[::-1] if n is None else px[max(len(px) - n, 0):][::-1] if n > 0 else []
        b = self._bid
        return [(k, b[k]) for k in top]

    def asks(self, n: int | None = None) -> list[Level]:
        """Top ``n`` asks (all if None), best first, as ``(price, size)``."""
        px = self._ask_px if n is None else self._ask_px[:n]
        a = self._ask
        return [(k, a[k]) for k in px]

    def arrays(self, n: int | None = None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Top ``n`` bids and asks as two ``(rows, 2)`` float arrays of price and size."""
        return (
            np.array(self.bids(n), dtype=np.float64).reshape(-1, 2),
            np.array(self.asks(n), dtype=np.float64).reshape(-1, 2),
        )

    def __len__(self) -> int:
        return len(self._bid_px) + len(self._ask_px)


class BookView(_BookReader):
    """An immutable snapshot of an order book at one update id ``u``."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"BookView is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"BookView is immutable: cannot delete {name!r}")

    def __repr__(self) -> str:
        return (
            f"BookView({self.symbol} u={self.u} bid={self.best_bid} ask={self.best_ask} "
            f"levels={len(self._bid_px)}/{len(self._ask_px)})"
        )


class _ViewDraft(_BookReader):
    """Same layout as :class:`BookView` but writable: a view is filled here, then frozen."""

    __slots__ = ()


class OrderBook(_BookReader):
    """A local order book kept by Bybit's rules. Feed it :class:`BookUpdate` events."""

    __slots__ = ("cts", "restarts", "synced")

    def __init__(self, symbol: str = "", depth: int | None = None) -> None:
        """``depth`` caps levels per side (None: take it from the first update)."""
        self.symbol = symbol
        self.depth = depth or 0
        self.u = 0
        self.seq = 0
        self.ts = 0
        self.cts = 0
        self.synced = False
        """False before the first snapshot and after a gap or crossed book."""
        self.restarts = 0
        self._bid_px = []
        self._ask_px = []
        self._bid = {}
        self._ask = {}

    @property
    def needs_resync(self) -> bool:
        """True when the book is out of sync and must get a fresh snapshot."""
        return not self.synced

    def apply(self, update: BookUpdate) -> Applied:
        """Apply one update and say what happened (see :class:`Applied`)."""
        if update.snapshot:
            self._reset(update)
            if not self.synced:
                return _CROSSED
            if update.u == 1:
                self.restarts += 1
                return _RESTART
            return _SNAPSHOT
        if not self.synced:
            return _REFUSED
        u = update.u
        if u != self.u + 1:
            if u <= self.u:
                return _STALE
            self.synced = False
            return _GAP
        bids = update.bids
        if bids:
            if getrefcount(self._bid) > _ALONE or getrefcount(self._bid_px) > _ALONE:  # a view holds this side:
                self._bid, self._bid_px = self._bid.copy(), self._bid_px.copy()  # copy before the change
            sizes = self._bid
            keys = self._bid_px  # ascending: the best bid is the last
            for p, s in bids:
                if s:
                    if p not in sizes:
                        insort(keys, p)
                    sizes[p] = s
                elif p in sizes:
                    del sizes[p]
                    del keys[bisect_left(keys, p)]
            if len(keys) > self.depth > 0:
                extra = len(keys) - self.depth
                for k in keys[:extra]:
                    del sizes[k]
                del keys[:extra]
        asks = update.asks
        if asks:
            if getrefcount(self._ask) > _ALONE or getrefcount(self._ask_px) > _ALONE:
                self._ask, self._ask_px = self._ask.copy(), self._ask_px.copy()
            sizes = self._ask
            keys = self._ask_px
            for p, s in asks:
                if s:
                    if p not in sizes:
                        insort(keys, p)
                    sizes[p] = s
                elif p in sizes:
                    del sizes[p]
                    del keys[bisect_left(keys, p)]
            if len(keys) > self.depth > 0:
                for k in keys[self.depth:]:
                    del sizes[k]
                del keys[self.depth:]
        self.u = u
        self.seq = update.seq
        self.ts = update.ts
        self.cts = update.cts
        bid_px = self._bid_px
        ask_px = self._ask_px
        if bid_px and ask_px and bid_px[-1] >= ask_px[0]:
            self.synced = False
            return _CROSSED
        return _DELTA

    def view(self) -> BookView:
        """An immutable view of the book as it is now (O(1); later updates copy first)."""
        v = _ViewDraft()
        v.symbol = self.symbol
        v.depth = self.depth
        v.u = self.u
        v.seq = self.seq
        v.ts = self.ts
        v._bid_px = self._bid_px
        v._ask_px = self._ask_px
        v._bid = self._bid
        v._ask = self._ask
        v.__class__ = BookView  # type: ignore[assignment]  # from here on, setting an attribute raises
        return v  # type: ignore[return-value]

    def clear(self) -> None:
        """Forget all levels and wait for a snapshot."""
        self._bid_px, self._ask_px, self._bid, self._ask = [], [], {}, {}
        self.synced = False

    def _reset(self, update: BookUpdate) -> None:
        if not self.symbol:
            self.symbol = update.symbol
        if update.depth and not self.depth:
            self.depth = update.depth
        depth = self.depth or max(len(update.bids), len(update.asks))
        bid = {p: s for p, s in update.bids if s != 0}
        ask = {p: s for p, s in update.asks if s != 0}
        bid_px = sorted(bid)  # Bybit sends each side sorted: a linear pass for timsort
        ask_px = sorted(ask)
        if len(bid_px) > depth:
            for k in bid_px[:-depth]:
                del bid[k]
            bid_px = bid_px[-depth:] if depth else []
        if len(ask_px) > depth:
            for k in ask_px[depth:]:
                del ask[k]
            ask_px = ask_px[:depth]
        self._bid_px, self._ask_px = bid_px, ask_px
        self._bid, self._ask = bid, ask
        self.u = update.u
        self.seq = update.seq
        self.ts = update.ts
        self.cts = update.cts
        self.synced = not self.crossed

    def __repr__(self) -> str:
        state = "synced" if self.synced else "needs resync"
        return (
            f"OrderBook({self.symbol} depth={self.depth} u={self.u} {state} "
            f"bid={self.best_bid} ask={self.best_ask})"
        )



_SNAPSHOT = Applied.SNAPSHOT
_RESTART = Applied.RESTART
_DELTA = Applied.DELTA
_STALE = Applied.STALE
_GAP = Applied.GAP
_CROSSED = Applied.CROSSED
_REFUSED = Applied.REFUSED
