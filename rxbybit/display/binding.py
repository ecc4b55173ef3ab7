"""Live binding: one ipywidgets widget kept fresh through the render scheduler.

:class:`LiveBinding` ties one widget to a render job of the global scheduler: it refreshes while
the widget is shown, pauses when the frontend reports that no view is left (the output was cleared
or its cell re-run), and on ``close`` disposes the job and every subscription it was given. Trait
values are only set from ``render``, which the scheduler calls on the event loop.

:func:`live_html` makes a self-refreshing HTML widget from a function returning HTML (what live
frames show), and :func:`mimebundle` the notebook output of such an object: the live widget where
widgets work, static HTML and text everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import ipywidgets
from reactivex import abc

from .scheduler import RenderJob, RenderScheduler, get_render_scheduler

log = logging.getLogger(__name__)


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


def live_html(
    html: Callable[[], str],
    listen: Callable[[Callable[[], None]], abc.DisposableBase],
    *,
    max_fps: float = 4.0,
    scheduler: RenderScheduler | None = None,
    name: str = "view",
) -> LiveHTML:
    """An HTML widget showing ``html()``, re-rendered (rate-capped) after every change.

    ``listen(callback)`` must arrange for ``callback()`` to be called on every change and return a
    disposable that stops it; closing the widget disposes it and stops the refresh.
    """
    widget = LiveHTML(value=html())
    binding = LiveBinding(widget, lambda: setattr(widget, "value", html()), max_fps=max_fps, scheduler=scheduler,
                          name=name)
    binding.own(listen(binding.changed))
    return widget


def mimebundle(live: Callable[[], ipywidgets.Widget], html: str, text: str) -> dict[str, Any]:
    """Notebook output: ``live()``'s widget for widget frontends, plus ``html`` and ``text`` for others."""
    bundle: dict[str, Any] = {}
    try:
        bundle.update(live()._repr_mimebundle_())
    except Exception:  # no widget support: the static forms still work
        log.debug("live widget unavailable", exc_info=True)
    bundle["text/html"] = html
    bundle["text/plain"] = text
    return bundle
