"""Live frames: bounded, pandas-backed views of streams that render themselves in notebooks.

* :class:`LiveFrame`: the newest rows of a stream (row and time windows), ``.df`` on demand;
* :class:`BookFrame`: the top levels of an order book;
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

__all__ = [
    "BookFrame",
    "LiveBinding",
    "LiveFrame",
    "LiveHTML",
    "RenderJob",
    "RenderScheduler",
    "Schema",
    "get_render_scheduler",
    "set_cell_provider",
    "set_render_scheduler",
    "to_book",
    "to_frame",
]
