"""Display plumbing under every live view: the render scheduler, live widget binding, cells, HTML.

Frames and widgets build on these; nothing here knows about streams, frames or Bybit. The render
scheduler is public: docs/live-views.md shows a custom live view built on it.

* :class:`RenderScheduler` / :class:`RenderJob`: the one global, rate-capped refresh every live
  view goes through (:func:`get_render_scheduler`, :func:`set_render_scheduler`); with no running
  event loop, call ``get_render_scheduler().flush()`` to refresh by hand;
* :class:`LiveBinding`: ties one ipywidgets widget to a render job (pauses while not shown, owns
  subscriptions until closed); :class:`LiveHTML` and :func:`live_html` for self-refreshing HTML;
  :func:`mimebundle` for notebook output with a static fallback;
* :func:`track_cell` / :func:`set_cell_provider`: close what an earlier run of a cell made;
* :func:`esc`, :func:`badge`, :func:`titled_html`: the HTML pieces views share;
* :func:`decimals_of`, :func:`places_for`, :func:`fmt_number`, :func:`tidy`: numbers with the
  instrument's decimals, aligned, without float noise.
"""

from .binding import LiveBinding, LiveHTML, live_html, mimebundle
from .cells import CellProvider, Closable, set_cell_provider, track_cell
from .html import BADGE_STYLES, badge, esc, titled_html
from .numbers import column_formatters, decimals_of, fmt_number, places_for, tidy
from .scheduler import RenderJob, RenderScheduler, get_render_scheduler, set_render_scheduler

__all__ = [
    "BADGE_STYLES",
    "CellProvider",
    "Closable",
    "LiveBinding",
    "LiveHTML",
    "RenderJob",
    "RenderScheduler",
    "badge",
    "column_formatters",
    "decimals_of",
    "esc",
    "fmt_number",
    "get_render_scheduler",
    "live_html",
    "mimebundle",
    "places_for",
    "set_cell_provider",
    "set_render_scheduler",
    "tidy",
    "titled_html",
    "track_cell",
]
