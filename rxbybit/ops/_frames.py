"""``to_frame``, ``to_book``, ``to_state``: end a pipe in a live frame of :mod:`rxbybit.frames`.

The frame subscribes to the stream and shows its provenance (the SIMULATED or REPLAY label of the
typed :class:`~rxbybit.client.stream.Stream`) unless ``provenance=`` or ``simulated=`` say otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, Unpack

import pandas as pd
import reactivex as rx

from ..frames import BookFrame, FrameOptions, LiveBase, LiveFrame, StateFrame
from ..frames.state import Row

F = TypeVar("F", LiveFrame, BookFrame, StateFrame)


def _ending_in(make: Callable[[], F], options: FrameOptions) -> Callable[[rx.Observable[Any]], F]:
    """The pipe step: a fresh frame from ``make()``, subscribed to the source (bad ``options`` fail now)."""
    LiveBase.check_options(options)

    def apply(source: rx.Observable[Any]) -> F:
        frame = make()
        frame.subscribe_to(source)
        return frame

    return apply


def to_frame(
    max_rows: int = 10_000,
    *,
    window: str | pd.Timedelta | float | None = None,
    columns: Sequence[str] | None = None,
    time_field: str | None = None,
    key: str | None = None,
    topic: str | None = None,
    **options: Unpack[FrameOptions],
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
        topic: the declared schema of mapping items (``"execution"``, ``"order"`` ...; default:
            recognised from the fields, see :mod:`rxbybit.frames.schemas`).
        options: :class:`~rxbybit.frames.FrameOptions`: ``provenance`` (the label to show; default:
            the stream's, LIVE for a plain observable), ``simulated`` (``True`` labels live data
            SIMULATED; kept for older code), ``name``, ``render_fps``, ``scheduler``.

    Returns:
        A function of an observable (use it with ``pipe``) returning the subscribed frame;
        ``frame.close()`` unsubscribes. The frame is not an observable: it ends the pipe.
    """
    return _ending_in(lambda: LiveFrame(
        max_rows, window=window, columns=columns, time_field=time_field, key=key, topic=topic, **options
    ), options)


def to_book(levels: int = 10, **options: Unpack[FrameOptions]) -> Callable[[rx.Observable[Any]], BookFrame]:
    """Subscribe to an order-book stream and keep its top ``levels`` in a :class:`~rxbybit.frames.BookFrame`.

    Example::

        top = bybit.orderbook("BTCUSDT", depth=50).pipe(ops.to_book(levels=10))
        top.df            # level 0..9: bid_size, bid_price, ask_price, ask_size

    ``options`` are those of :func:`to_frame`.
    """
    return _ending_in(lambda: BookFrame(levels, **options), options)


def to_state(
    key: str | Sequence[str],
    *,
    drop: Callable[[Row], bool] | None = None,
    explode: Callable[[Row], Iterable[Row]] | None = None,
    columns: Sequence[str] | None = None,
    topic: str | None = None,
    **options: Unpack[FrameOptions],
) -> Callable[[rx.Observable[Any]], StateFrame]:
    """Collect a stream of changes into a :class:`~rxbybit.frames.StateFrame` keyed by ``key``.

    Example::

        open_orders = private.orders().pipe(ops.to_state("orderId", drop=frames.is_final_order))

    ``topic`` names the declared schema ``.df`` types columns by (``"order"``, ``"position"`` ...;
    default: recognised from the fields). ``options`` are those of :func:`to_frame`.
    """
    return _ending_in(lambda: StateFrame(key, drop=drop, explode=explode, columns=columns, topic=topic,
                                         **options), options)
