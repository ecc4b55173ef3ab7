"""Live display plumbing shared by frames and widgets.

:class:`LiveBinding` ties one ipywidgets widget to a render job of the global scheduler: it
refreshes while the widget is shown, pauses when the frontend reports that no view is left (the
output was cleared or its cell re-run), and on ``close`` disposes the job and every subscription it
was given. Trait values are only set from ``render``, which the scheduler calls on the event loop.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets
from reactivex import abc

from .render import RenderJob, RenderScheduler, get_render_scheduler

SIMULATED_BADGE = (
    '<span style="background:#b45309;color:white;font-weight:bold;padding:1px 6px;'
    'border-radius:3px;font-size:11px" title="data from the local simulator, not the market">SIMULATED</span>'
)


def badge(simulated: bool) -> str:
    """The SIMULATED label as HTML (empty for real data)."""
    return SIMULATED_BADGE if simulated else ""


def esc(value: object) -> str:
    """HTML-escape any value's ``str``."""
    return html.escape(str(value))


def frame_html(kind: str, simulated: bool, title: str, table: str) -> str:
    """A live frame's static HTML: the SIMULATED badge and a title line over its table."""
    return (
        f'<div class="rxbybit-{kind.lower()}"><div style="font-size:12px;margin-bottom:2px">'
        f"{badge(simulated)} {esc(title)}</div>{table}</div>"
    )


class LiveBinding:
    """Refresh ``widget`` through the render scheduler; own its subscriptions until ``close``."""

    def __init__(
        self,
        widget: ipywidgets.Widget,
        render: Callable[[], None],
        *,
        max_fps: float = 4.0,
        scheduler: RenderScheduler | None = None,
        name: str = "view",
    ) -> None:
        self.widget = widget
        self.scheduler = scheduler or get_render_scheduler()
        self.job: RenderJob = self.scheduler.register(render, max_fps=max_fps, name=name)
        self._disposables: list[abc.DisposableBase] = []
        self._on_close: list[Callable[[], None]] = []
        self.closed = False
        self._shown = False
        if hasattr(type(widget), "binding"):  # widgets whose close() closes their binding
            widget.binding = self
        widget._view_count = 0  # ask the frontend to report how many views exist
        widget.observe(self._views_changed, names="_view_count")

    def own(self, disposable: abc.DisposableBase) -> None:
        """Dispose ``disposable`` when the widget closes."""
        if self.closed:
            disposable.dispose()
        else:
            self._disposables.append(disposable)

    def on_close(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once when the binding closes."""
        self._on_close.append(callback)

    def changed(self) -> None:
        """The state changed: render it when the rate limits allow."""
        self.job.mark_dirty()

    @property
    def paused(self) -> bool:
        """True when the frontend said no view is left (rendering is suspended)."""
        return not self.job.active and not self.closed

    def _views_changed(self, change: dict[str, Any]) -> None:
        if self.closed:
            return
        count = change["new"] or 0
        if count > 0:
            self._shown = True
            if not self.job.active:
                self.job.resume()
                self.job.mark_dirty()
        elif self._shown:
            self.job.dispose()

    def close(self) -> None:
        """Stop rendering and dispose every owned subscription (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self.job.dispose()
        disposables, self._disposables = self._disposables, []
        for d in disposables:
            d.dispose()
        callbacks, self._on_close = self._on_close, []
        for cb in callbacks:
            cb()


class LiveHTML(ipywidgets.HTML):  # type: ignore[misc]
    """An HTML widget whose ``close`` also closes its :class:`LiveBinding`."""

    binding: LiveBinding | None = None

    def close(self) -> None:
        """Close the widget and stop its refresh."""
        if self.binding is not None:
            self.binding.close()
        super().close()
