"""OrderBook: a local copy of one Bybit order book, kept by snapshot/delta rules.

Rules (see the protocol reference, section 6.2):

* a snapshot replaces the book; a snapshot with ``u == 1`` means Bybit restarted the service;
* a delta level with size 0 deletes the price, an unknown price is inserted, a known one replaced;
* deltas must be contiguous (``u == last_u + 1``); an older or repeated ``u`` is ignored; a jump
  marks the book as needing a resync and further deltas are refused until a snapshot arrives;
* the book never holds more than its depth per side; a crossed book also needs a resync.

How a side is kept (the work a delta costs is the work it needs):

* sizes live in a price-keyed dict, and the best price is tracked as levels arrive, so applying a
  delta is one dict store per level, and ``best_bid``/``best_ask``/``mid``/``spread`` (and the
  crossed-book check) cost nothing extra. Only deleting the best level looks for the next one;
* price *order* is kept lazily: a delta that adds or removes prices is noted, and the sorted
  prices are brought up to date when somebody reads levels (``bids``/``asks``/``arrays``): the
  noted prices are placed by bisection, or the side is sorted again after many changes. A reader
  of every update pays about what keeping the order eagerly would cost; one that reads at render
  rate (or only the best prices) does not pay for the updates in between.

Views handed out by :meth:`OrderBook.view` are immutable: a view shares the book's storage, and
the book copies a side before changing it while a view still holds it (copy-on-write, told by the
side's reference count), so a view costs next to nothing to take and never changes afterwards.
"""

from __future__ import annotations

from bisect import bisect_left
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from ._shared import ALONE as _ALONE
from ._shared import getrefcount
from .events import BookUpdate, Level

if TYPE_CHECKING:
    from numpy.typing import NDArray


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


_NO_BID = float("-inf")
_NO_ASK = float("inf")
_LOG_MAX = 32
"""Deltas noted per side before the order is given up on and rebuilt by sorting, at the next read."""


def _ordered(
    px: list[float], log: list[list[Level]] | None, sizes: dict[float, float], alone: bool
) -> list[float]:
    """The prices of ``sizes`` in ascending order: ``px`` as it was, brought up to date with the
    prices the deltas in ``log`` mentioned (``None``: too many to follow, sort again).

    ``px`` is changed in place only when ``alone`` (nothing else holds it); otherwise the result is
    a new list. Whether a noted price is in the book is decided by ``sizes`` (the state after every
    delta), so the notes may come in any order, repeat, or run past the state ``sizes`` shows.
    """
    if log is None:
        return sorted(sizes)
    noted = 0
    for levels in log:
        noted += len(levels)
    if noted * 4 > len(px) + 32:  # many changes: one sort (C, near-linear on a mostly sorted side)
        return sorted(sizes)
    if not alone:
        px = px.copy()
    for levels in log:
        for p, _s in levels:
            i = bisect_left(px, p)
            here = i < len(px) and px[i] == p
            if p in sizes:
                if not here:
                    px.insert(i, p)
            elif here:
                del px[i]
    return px


def _next_best(
    sizes: dict[float, float], px: list[float], log: list[list[Level]] | None, levels: list[Level], bid: bool
) -> float:
    """The best price left after the best was deleted by ``levels``: from the ordered prices when
    they are up to date before this delta (a step or two from the top, then this delta's own new
    prices), else by scanning the side."""
    if not sizes:
        return _NO_BID if bid else _NO_ASK
    if log is not None and not log:
        for k in reversed(px) if bid else px:
            if k in sizes:
                break
        else:
            return max(sizes) if bid else min(sizes)
        for p, s in levels:  # prices this delta added are not in ``px`` yet
            if s and (p > k if bid else p < k) and p in sizes:
                k = p
        return k
    return max(sizes) if bid else min(sizes)


class _BookReader:
    """Read-only queries shared by :class:`OrderBook` and :class:`BookView`.

    Per side: ``_bid``/``_ask`` map price to size (the truth); ``_bb``/``_ba`` are the best prices
    (``-inf``/``inf`` when a side is empty); ``_bid_px``/``_ask_px`` hold prices ascending as of
    the last ordering, and ``_bid_log``/``_ask_log`` the deltas that may have added or removed
    prices since (``None``: too many, sort again).
    """

    __slots__ = (
        "__weakref__", "_ask", "_ask_log", "_ask_px", "_ba", "_bb", "_bid", "_bid_log", "_bid_px", "_book",
        "depth", "seq", "symbol", "ts", "u",
    )

    symbol: str
    depth: int
    u: int
    seq: int
    ts: int
    _bid: dict[float, float]
    _ask: dict[float, float]
    _bb: float
    _ba: float
    _bid_px: list[float]
    _ask_px: list[float]
    _bid_log: list[list[Level]] | None
    _ask_log: list[list[Level]] | None
    _book: OrderBook | None

    @property
    def best_bid(self) -> Level | None:
        """``(price, size)`` of the highest bid, or None if there are no bids."""
        if not self._bid:
            return None
        p = self._bb
        return (p, self._bid[p])

    @property
    def best_ask(self) -> Level | None:
        """``(price, size)`` of the lowest ask, or None if there are no asks."""
        if not self._ask:
            return None
        p = self._ba
        return (p, self._ask[p])

    @property
    def mid(self) -> float | None:
        """Midpoint of best bid and ask, or None if a side is empty."""
        if not self._bid or not self._ask:
            return None
        return (self._ba + self._bb) / 2

    @property
    def spread(self) -> float | None:
        """Best ask minus best bid, or None if a side is empty."""
        if not self._bid or not self._ask:
            return None
        return self._ba - self._bb

    @property
    def crossed(self) -> bool:
        """True when the best bid is at or above the best ask."""
        return self._bb >= self._ba

    def _bid_prices(self) -> list[float]:
        """The bid prices, ascending (ordered now if deltas added or removed prices since)."""
        if self._bid_log is None or self._bid_log:
            self._order_bids()
        return self._bid_px

    def _ask_prices(self) -> list[float]:
        """The ask prices, ascending."""
        if self._ask_log is None or self._ask_log:
            self._order_asks()
        return self._ask_px

    def _order_bids(self) -> None:
        raise NotImplementedError

    def _order_asks(self) -> None:
        raise NotImplementedError

    def bids(self, n: int | None = None) -> list[Level]:
        """Top ``n`` bids (all if None), best first, as ``(price, size)``."""
        px = self._bid_prices()
        top = px[::-1] if n is None else px[max(len(px) - n, 0):][::-1] if n > 0 else []
        b = self._bid
        return [(k, b[k]) for k in top]

    def asks(self, n: int | None = None) -> list[Level]:
        """Top ``n`` asks (all if None), best first, as ``(price, size)``."""
        px = self._ask_prices()
        if n is not None:
            px = px[:n] if n > 0 else []
        a = self._ask
        return [(k, a[k]) for k in px]

    def arrays(self, n: int | None = None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Top ``n`` bids and asks as two ``(rows, 2)`` float arrays of price and size."""
        return (
            np.array(self.bids(n), dtype=np.float64).reshape(-1, 2),
            np.array(self.asks(n), dtype=np.float64).reshape(-1, 2),
        )

    def __len__(self) -> int:
        return len(self._bid) + len(self._ask)


class BookView(_BookReader):
    """An immutable snapshot of an order book at one update id ``u``."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"BookView is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"BookView is immutable: cannot delete {name!r}")

    def _order_bids(self) -> None:
        book = self._book
        if book is not None and book._bid is self._bid:
            # The book still holds exactly this side (it copies a side a view holds before changing
            # it): order it there, once for the book and every view of this state. The view lets go
            # of the old prices first, so the book may reorder them in place.
            object.__setattr__(self, "_bid_px", None)
            px = book._bid_prices()
        else:
            px = _ordered(self._bid_px, self._bid_log, self._bid, False)
        object.__setattr__(self, "_bid_px", px)  # a cache: the view stays immutable to its users
        object.__setattr__(self, "_bid_log", [])

    def _order_asks(self) -> None:
        book = self._book
        if book is not None and book._ask is self._ask:
            object.__setattr__(self, "_ask_px", None)
            px = book._ask_prices()
        else:
            px = _ordered(self._ask_px, self._ask_log, self._ask, False)
        object.__setattr__(self, "_ask_px", px)
        object.__setattr__(self, "_ask_log", [])

    def __repr__(self) -> str:
        return (
            f"BookView({self.symbol} u={self.u} bid={self.best_bid} ask={self.best_ask} "
            f"levels={len(self._bid)}/{len(self._ask)})"
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
        self._empty()

    def _empty(self) -> None:
        self._book = None
        self._bid, self._ask = {}, {}
        self._bb, self._ba = _NO_BID, _NO_ASK
        self._bid_px, self._ask_px = [], []
        self._bid_log, self._ask_log = [], []

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
            if getrefcount(self._bid) > _ALONE:  # a view holds this side: copy before the change
                self._bid = self._bid.copy()
            sizes = self._bid
            n = len(sizes)
            best = self._bb
            gone = False
            for p, s in bids:
                if s:
                    sizes[p] = s
                    if p > best:
                        best = p
                elif p in sizes:
                    del sizes[p]
                    n = -1  # a price went: the order must hear of it
                    if p == best:
                        gone = True
            if gone:
                best = _next_best(sizes, self._bid_px, self._bid_log, bids, True)
            self._bb = best
            if len(sizes) != n:  # prices came or went: note them for whoever orders the side next
                log = self._bid_log
                if log is not None:
                    if len(log) < _LOG_MAX:
                        log.append(bids)  # (a view sharing the list may see later notes: its own dict decides)
                    else:
                        self._bid_log = None  # too many to follow: sort again at the next read
                if len(sizes) > self.depth > 0:
                    self._trim_bids()
        asks = update.asks
        if asks:
            if getrefcount(self._ask) > _ALONE:
                self._ask = self._ask.copy()
            sizes = self._ask
            n = len(sizes)
            best = self._ba
            gone = False
            for p, s in asks:
                if s:
                    sizes[p] = s
                    if p < best:
                        best = p
                elif p in sizes:
                    del sizes[p]
                    n = -1  # a price went: the order must hear of it
                    if p == best:
                        gone = True
            if gone:
                best = _next_best(sizes, self._ask_px, self._ask_log, asks, False)
            self._ba = best
            if len(sizes) != n:
                log = self._ask_log
                if log is not None:
                    if len(log) < _LOG_MAX:
                        log.append(asks)
                    else:
                        self._ask_log = None
                if len(sizes) > self.depth > 0:
                    self._trim_asks()
        self.u = u
        self.seq = update.seq
        self.ts = update.ts
        self.cts = update.cts
        if self._bb >= self._ba:
            self.synced = False
            return _CROSSED
        return _DELTA

    def _order_bids(self) -> None:
        alone = getrefcount(self._bid_px) <= _ALONE  # no view holds the prices: reorder in place
        self._bid_px = _ordered(self._bid_px, self._bid_log, self._bid, alone)
        self._bid_log = []

    def _order_asks(self) -> None:
        alone = getrefcount(self._ask_px) <= _ALONE
        self._ask_px = _ordered(self._ask_px, self._ask_log, self._ask, alone)
        self._ask_log = []

    def _trim_bids(self) -> None:
        """Never more than the depth: drop the lowest bids."""
        px = self._bid_prices()
        extra = len(px) - self.depth
        sizes = self._bid
        for k in px[:extra]:
            del sizes[k]
        self._bid_px = px[extra:]

    def _trim_asks(self) -> None:
        """Never more than the depth: drop the highest asks."""
        px = self._ask_prices()
        sizes = self._ask
        for k in px[self.depth:]:
            del sizes[k]
        self._ask_px = px[: self.depth]

    def view(self) -> BookView:
        """An immutable view of the book as it is now (O(1); later updates copy first)."""
        v = _ViewDraft()
        v.symbol = self.symbol
        v.depth = self.depth
        v.u = self.u
        v.seq = self.seq
        v.ts = self.ts
        v._bid = self._bid
        v._ask = self._ask
        v._bb = self._bb
        v._ba = self._ba
        v._bid_px = self._bid_px
        v._ask_px = self._ask_px
        v._bid_log = self._bid_log
        v._ask_log = self._ask_log
        v._book = self
        v.__class__ = BookView  # type: ignore[assignment]  # from here on, setting an attribute raises
        return v  # type: ignore[return-value]

    def clear(self) -> None:
        """Forget all levels and wait for a snapshot."""
        self._empty()
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
        self._bid, self._ask = bid, ask
        self._bid_px, self._ask_px = bid_px, ask_px
        self._bid_log, self._ask_log = [], []
        self._bb = bid_px[-1] if bid_px else _NO_BID
        self._ba = ask_px[0] if ask_px else _NO_ASK
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
