"""Domain operators for Bybit streams: use them in ``pipe`` like reactivex's own.

::

    from rxbybit import ops
    tape = trades.pipe(ops.to_frame(max_rows=5_000))           # a LiveFrame
    bars = trades.pipe(ops.to_ohlc("1min"), ops.to_frame())     # candles built from the tape
    mids = book.pipe(ops.mid())                                 # Point(ts, value, symbol)
    top = book.pipe(ops.to_book(levels=10))                     # a BookFrame

Generic operators stay in ``reactivex.operators``. ``to_frame``/``to_book``/``to_state`` end a pipe
in a live frame of :mod:`rxbybit.frames`. Every stream these operators return is a
:class:`~rxbybit.client.stream.Stream` with the provenance of its source, so a frame at the end of
a pipeline built from simulator data is labelled SIMULATED (or REPLAY for a recording);
``combine_latest``, ``merge`` and ``zip`` join several streams and keep the label too.
"""

from ._book import imbalance, mid, spread
from ._combine import combine_latest, merge, zip
from ._frames import to_book, to_frame, to_state
from ._ohlc import to_ohlc
from ._point import Point
from ._stats import rolling, vwap

__all__ = ["Point", "combine_latest", "imbalance", "merge", "mid", "rolling", "spread", "to_book", "to_frame",
           "to_ohlc", "to_state", "vwap", "zip"]
