"""Stream statistics: VWAP of trades and rolling aggregates of any stamped numbers."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import reactivex as rx
from numpy.typing import NDArray

from ..client.stream import Stream
from ._point import Point
from ._stateful import stateful
from ._window import SlidingSums, parse_window

Window: TypeAlias = int | str | pd.Timedelta | None


def vwap(window: Window = None) -> Callable[[rx.Observable[Any]], Stream[Point]]:
    """Volume-weighted average price of trades: ``sum(price * size) / sum(size)``, one Point per trade.

    ``window`` is None (everything since subscribing), a count of trades (``500``) or a span of
    exchange time (``"1min"``: trades newer than the last trade's time minus one minute). Example::

        trades.pipe(ops.vwap("5min"))            # Point(ts, 60012.4, "BTCUSDT") per trade
    """
    count, ms = parse_window(window)

    def make() -> Callable[[Any], Point | None]:
        sums = SlidingSums(count, ms)

        def step(t: Any) -> Point | None:
            try:
                price, size, ts = float(t.price), float(t.size), int(t.ts)
            except AttributeError:
                raise TypeError(f"vwap needs trades (price, size, ts), got a {type(t).__name__}: {t!r:.120}") from None
            sums.add(ts, price * size, size)
            if sums.sum_b <= 0:
                return None
            return Point(ts, sums.sum_a / sums.sum_b, str(getattr(t, "symbol", "")))

        return step

    return stateful(make)


_AGGS: dict[str, Callable[[NDArray[np.float64]], float]] = {
    "min": lambda a: float(a.min()),
    "max": lambda a: float(a.max()),
    "std": lambda a: float(a.std(ddof=1)) if len(a) > 1 else math.nan,
    "var": lambda a: float(a.var(ddof=1)) if len(a) > 1 else math.nan,
    "median": lambda a: float(np.median(a)),
    "first": lambda a: float(a[0]),
}


def _value_of(item: Any) -> float:
    if isinstance(item, Point):
        return float(item.value)
    if isinstance(item, int | float) and not isinstance(item, bool):
        return float(item)
    price = getattr(item, "price", None)
    if price is not None:
        return float(price)
    raise TypeError(f"rolling() cannot find a number in a {type(item).__name__} (pass value=...): {item!r:.120}")


def rolling(
    window: int | str | pd.Timedelta,
    agg: str | Callable[[NDArray[np.float64]], float] = "mean",
    *,
    value: Callable[[Any], float] | None = None,
) -> Callable[[rx.Observable[Any]], Stream[Point]]:
    """A rolling aggregate over the last ``window`` items (an int) or span of exchange time (``"30s"``).

    ``agg`` is ``"mean"``, ``"sum"``, ``"count"`` (kept incrementally), ``"min"``, ``"max"``,
    ``"std"``, ``"var"``, ``"median"``, ``"first"``, or a function of the window's values as a numpy
    array. Items are Points (``value``), plain numbers (count windows only), trades (``price``), or
    anything with a ``value=`` extractor. Each item emits one Point stamped with its own time.
    Example::

        book.pipe(ops.mid(), ops.rolling("10s"))                       # 10 s moving average of the mid
        trades.pipe(ops.rolling(100, "sum", value=lambda t: t.size))   # volume of the last 100 trades
    """
    count, ms = parse_window(window)
    if isinstance(agg, str) and agg not in ("mean", "sum", "count", *_AGGS):
        raise ValueError(f"unknown agg {agg!r}: use mean, sum, count, {', '.join(_AGGS)} or a function")
    get = value or _value_of

    def make() -> Callable[[Any], Point | None]:
        sums = SlidingSums(count, ms)

        def step(item: Any) -> Point | None:
            v = float(get(item))
            ts_attr = getattr(item, "ts", None)
            if ts_attr is None and ms is not None:
                raise TypeError(f"a time window needs items with a ts, got a {type(item).__name__}: {item!r:.120}")
            ts = int(ts_attr or 0)
            sums.add(ts, v, 1.0)
            n = len(sums.items)
            if agg == "mean":
                out = sums.sum_a / n
            elif agg == "sum":
                out = sums.sum_a
            elif agg == "count":
                out = float(n)
            else:
                fn = _AGGS[agg] if isinstance(agg, str) else agg
                out = float(fn(np.fromiter((x[1] for x in sums.items), dtype=np.float64, count=n)))
            return Point(ts, out, str(getattr(item, "symbol", "")))

        return step

    return stateful(make)
