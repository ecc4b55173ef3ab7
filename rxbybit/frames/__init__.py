"""Live frames: bounded, pandas-backed views of streams that render themselves in notebooks.

* :class:`LiveFrame`: the newest rows of a stream (row and time windows), ``.df`` on demand;
* :class:`BookFrame`: the top levels of an order book;
* :class:`StateFrame`: the newest state per key: :func:`open_orders`, :func:`positions`,
  :func:`balances` build ready-made ones from the private streams;
* :class:`LiveBase`: their common base; :class:`FrameOptions`: the keyword options they all take.

Each frame shows where its data comes from: the :class:`~rxbybit.client.stream.Provenance` of the
stream it follows (SIMULATED or REPLAY label; none for live data). Frames refresh through the
global render scheduler of :mod:`rxbybit.display`; the operators that end a pipe in a frame
(``to_frame``, ``to_book``, ``to_state``) are in :mod:`rxbybit.ops`::

    tape = trades.pipe(ops.to_frame(max_rows=5_000))
"""

from ._base import FrameOptions, LiveBase
from ._schema import Schema
from .book import BookFrame
from .live import LiveFrame, window_ms
from .provenance import provenance_badge, resolve_provenance, shown_label
from .state import StateFrame, balances, is_final_order, open_orders, positions

__all__ = [
    "BookFrame",
    "FrameOptions",
    "LiveBase",
    "LiveFrame",
    "Schema",
    "StateFrame",
    "balances",
    "is_final_order",
    "open_orders",
    "positions",
    "provenance_badge",
    "resolve_provenance",
    "shown_label",
    "window_ms",
]
