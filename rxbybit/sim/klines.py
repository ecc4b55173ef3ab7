"""Candles built from a market's trades, for every Bybit kline interval.

Candle boundaries follow Bybit: minute intervals and ``D`` from the epoch, ``W`` from Monday
00:00 UTC, ``M`` from the first day of the calendar month.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass, replace
from typing import Final

from ..protocol.topics import KLINE_INTERVAL_MS, KLINE_INTERVALS

_DAY: Final = 86_400_000
_WEEK: Final = 7 * _DAY
_MONDAY_OFFSET: Final = 4 * _DAY  # 1970-01-01 was a Thursday


def candle_start(interval: str, t_ms: int) -> int:
    """Start (ms) of the ``interval`` candle that holds time ``t_ms``."""
    if interval == "W":
        return (t_ms - _MONDAY_OFFSET) // _WEEK * _WEEK + _MONDAY_OFFSET
    if interval == "M":
        d = dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC)
        return int(dt.datetime(d.year, d.month, 1, tzinfo=dt.UTC).timestamp() * 1000)
    length = KLINE_INTERVAL_MS[interval]
    return t_ms // length * length


def next_start(interval: str, start_ms: int) -> int:
    """Start (ms) of the candle after the one starting at ``start_ms``."""
    if interval == "M":
        d = dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC)
        year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
        return int(dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp() * 1000)
    if interval == "W":
        return start_ms + _WEEK
    return start_ms + KLINE_INTERVAL_MS[interval]


@dataclass(slots=True)
class Candle:
    """One candle in integer price/size units (``turnover`` in the quote coin, or base for inverse)."""

    interval: str
    start: int
    end: int
    open: int
    high: int
    low: int
    close: int
    volume: int = 0
    turnover: float = 0.0
    last_ts: int = 0
    confirm: bool = False
    trades: int = 0


class KlineSeries:
    """The forming candle of one interval plus the recently closed ones."""

    def __init__(self, interval: str, t_ms: int, price: int) -> None:
        self.interval = interval
        self.current = self._new(candle_start(interval, t_ms), price, t_ms)
        self.closed: deque[Candle] = deque(maxlen=64)
        self.closed_count = 0
        """How many candles have closed so far (feeds use it as a cursor)."""
        self.version = 0
        """Bumped on every change of the forming candle."""

    def _new(self, start: int, price: int, t_ms: int) -> Candle:
        return Candle(self.interval, start, next_start(self.interval, start) - 1, price, price, price, price,
                      last_ts=t_ms)

    def roll(self, t_ms: int) -> None:
        """Close candles that ended before ``t_ms`` and open the one holding ``t_ms``."""
        cur = self.current
        if t_ms <= cur.end:
            return
        self.closed.append(replace(cur, confirm=True))
        self.closed_count += 1
        self.current = self._new(candle_start(self.interval, t_ms), cur.close, t_ms)
        self.version += 1

    def add(self, t_ms: int, price: int, qty: int, value: float) -> None:
        """Count one trade (the caller has rolled to ``t_ms`` already)."""
        c = self.current
        if c.trades == 0 and c.volume == 0:
            c.open = c.high = c.low = price
        c.high = max(c.high, price)
        c.low = min(c.low, price)
        c.close = price
        c.volume += qty
        c.turnover += value
        c.last_ts = t_ms
        c.trades += 1
        self.version += 1


class Klines:
    """Candles of every interval for one market."""

    def __init__(self, t_ms: int, price: int) -> None:
        self.series = {i: KlineSeries(i, t_ms, price) for i in KLINE_INTERVALS}

    def roll(self, t_ms: int) -> None:
        """Advance every interval to time ``t_ms``."""
        for s in self.series.values():
            s.roll(t_ms)

    def add(self, t_ms: int, price: int, qty: int, value: float) -> None:
        """Count one trade in every interval."""
        for s in self.series.values():
            s.add(t_ms, price, qty, value)
