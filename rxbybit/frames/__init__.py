"""Live frames: bounded, pandas-backed views of streams that render themselves in notebooks.

* :class:`LiveFrame`: the newest rows of a stream (row and time windows), ``.df`` on demand;
* :class:`BookFrame`: the top levels of an order book;
* :class:`StateFrame`: the newest state per key: open orders, positions, balances;
* :class:`RenderScheduler`: the one global, rate-capped refresh every live view goes through;
  with no running event loop, call ``get_render_scheduler().flush()`` to refresh by hand.

Most users get these from :mod:`rxbybit.ops` (``trades.pipe(ops.to_frame())``).
"""

from ._cells import set_cell_provider
from ._display import LiveBinding, LiveHTML
from ._operators import to_book, to_frame
from ._schema import Schema
from .book import BookFrame
from .live import LiveFrame
from .render import RenderJob, RenderScheduler, get_render_scheduler, set_render_scheduler
from .state import StateFrame, balances, is_final_order, open_orders, positions, to_state

__all__ = [
    "BookFrame",
    "LiveBinding",
    "LiveFrame",
    "LiveHTML",
    "RenderJob",
    "RenderScheduler",
    "Schema",
    "StateFrame",
    "balances",
    "get_render_scheduler",
    "is_final_order",
    "open_orders",
    "positions",
    "set_cell_provider",
    "set_render_scheduler",
    "to_book",
    "to_frame",
    "to_state",
]
