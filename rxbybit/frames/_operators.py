"""``to_frame`` and ``to_book``: pipe a stream into a live frame (re-exported by :mod:`rxbybit.ops`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import reactivex as rx

from .book import BookFrame
from .live import LiveFrame
from .render import RenderScheduler


def _simulated(source: Any, given: bool | None) -> bool:
    if given is not None:
        return given
    return bool(getattr(source, "simulated", False))


def to_frame(
    max_rows: int = 10_000,
    *,
    window: str | pd.Timedelta | float | None = None,
    columns: Sequence[str] | None = None,
    time_field: str | None = None,
    key: str | None = None,
    simulated: bool | None = None,
    name: str = "",
    render_fps: float = 4.0,
    scheduler: RenderScheduler | None = None,
) -> Callable[[rx.Observable[Any]], LiveFrame]:
    """Subscribe to the stream and collect it into a :class:`~rxbybit.frames.LiveFrame`.

    Example::

        tape = trades.pipe(ops.to_frame(max_rows=5_000))
        tape.df.tail()                         # time-indexed pandas DataFrame
        bars = trades.pipe(ops.to_ohlc("1min"), ops.to_frame(max_rows=500))   # open candle updates in place

    Args:
        max_rows: row window (a fixed-size ring: memory never grows past it).
        window: optional time window of exchange time, e.g. ``"5min"``.
        columns: keep only these fields (default: all).
        time_field: the epoch-ms field used as the index (default: found by name, e.g. ``ts``).
        key: a column whose repeated value replaces the newest row (default for candles: ``start``).
        simulated: label the frame SIMULATED; default: the source's ``simulated`` attribute if any.
        name: a label for reprs and widgets.

    Returns:
        A function of an observable (use it with ``pipe``) returning the subscribed frame;
        ``frame.close()`` unsubscribes. The frame is not an observable: it ends the pipe.
    """

    def apply(source: rx.Observable[Any]) -> LiveFrame:
        frame = LiveFrame(
            max_rows, window=window, columns=columns, time_field=time_field, key=key,
            simulated=_simulated(source, simulated), name=name, render_fps=render_fps, scheduler=scheduler,
        )
        frame.subscribe_to(source)
        return frame

    return apply


def to_book(
    levels: int = 10,
    *,
    simulated: bool | None = None,
    name: str = "",
    render_fps: float = 4.0,
    scheduler: RenderScheduler | None = None,
) -> Callable[[rx.Observable[Any]], BookFrame]:
    """Subscribe to an order-book stream and keep its top ``levels`` in a :class:`~rxbybit.frames.BookFrame`.

    Example::

        top = bybit.orderbook("BTCUSDT", depth=50).pipe(ops.to_book(levels=10))
        top.df            # level 0..9: bid_size, bid_price, ask_price, ask_size
    """

    def apply(source: rx.Observable[Any]) -> BookFrame:
        frame = BookFrame(
            levels, simulated=_simulated(source, simulated), name=name, render_fps=render_fps, scheduler=scheduler
        )
        frame.subscribe_to(source)
        return frame

    return apply
