"""Sliding windows over stamped values: by count or by exchange time, with exact running sums."""

from __future__ import annotations

from collections import deque

import pandas as pd


def parse_window(window: int | str | pd.Timedelta | None) -> tuple[int | None, int | None]:
    """``(count, ms)``: an int is a count of items, a string or Timedelta a span of exchange time."""
    if window is None:
        return None, None
    if isinstance(window, bool):
        raise TypeError("window must be a count (int) or a time span ('30s'), not a bool")
    if isinstance(window, int):
        if window < 1:
            raise ValueError(f"a count window needs at least 1 item, got {window}")
        return window, None
    try:
        ms = int(pd.Timedelta(window).total_seconds() * 1000)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"window {window!r} is neither a count nor a time span like '30s': {exc}") from exc
    if ms <= 0:
        raise ValueError(f"a time window must be positive, got {window!r}")
    return None, ms


class SlidingSums:
    """Items ``(ts, a, b)`` in a window, with running sums of ``a`` and ``b``.

    Sums are recomputed from the window every so often so floating-point drift stays bounded.
    """

    __slots__ = ("_evictions", "count", "items", "ms", "sum_a", "sum_b")

    def __init__(self, count: int | None, ms: int | None) -> None:
        self.count = count
        self.ms = ms
        self.items: deque[tuple[int, float, float]] = deque()
        self.sum_a = 0.0
        self.sum_b = 0.0
        self._evictions = 0

    def add(self, ts: int, a: float, b: float) -> None:
        """Add one item, then drop what fell out of the window."""
        items = self.items
        items.append((ts, a, b))
        self.sum_a += a
        self.sum_b += b
        if self.count is not None:
            while len(items) > self.count:
                self._evict()
        if self.ms is not None:
            cutoff = ts - self.ms
            while items and items[0][0] <= cutoff:
                self._evict()
        if self._evictions > max(1024, len(items)):
            self.sum_a = sum(x[1] for x in items)
            self.sum_b = sum(x[2] for x in items)
            self._evictions = 0

    def _evict(self) -> None:
        _, a, b = self.items.popleft()
        self.sum_a -= a
        self.sum_b -= b
        self._evictions += 1
