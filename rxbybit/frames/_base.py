"""What LiveFrame and BookFrame share: feeding from an observable, change listeners, errors and
a self-refreshing notebook display."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import reactivex as rx
from reactivex import abc
from reactivex.disposable import Disposable

from . import _cells
from ._display import LiveBinding, LiveHTML
from .render import RenderScheduler

log = logging.getLogger("rxbybit.frames")

MAX_ERRORS = 100


class LiveBase:
    """Base of the live frames: an Rx observer that keeps state and renders itself."""

    simulated: bool
    name: str

    def __init__(
        self, *, simulated: bool, name: str, render_fps: float, scheduler: RenderScheduler | None
    ) -> None:
        self.simulated = simulated
        self.name = name
        self.render_fps = render_fps
        self._render_scheduler = scheduler
        self._listeners: list[Callable[[], None]] = []
        self._subscription: abc.DisposableBase | None = None
        self._widget: LiveHTML | None = None
        self.errors: deque[str] = deque(maxlen=MAX_ERRORS)
        """The latest problems met (bad items, bad values, a failed stream), newest last."""
        self.error: Exception | None = None
        """The exception that ended the source stream, if it failed."""
        self.completed = False
        self.closed = False

    # ----------------------------------------------------------------------------- feeding

    def _ingest(self, item: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def on_next(self, item: Any) -> None:
        """Observer side: ingest one item; a bad item is recorded in ``errors``, never raised."""
        try:
            self._ingest(item)
        except Exception as exc:
            self._record(f"dropped one item: {exc}")

    def on_error(self, error: Exception) -> None:
        """Observer side: the source failed. Rows received so far stay."""
        self.error = error
        self._record(f"source stream failed: {error!r}; rows received so far are kept")
        self._changed()

    def on_completed(self) -> None:
        """Observer side: the source ended."""
        self.completed = True
        self._changed()

    def subscribe_to(self, source: rx.Observable[Any]) -> abc.DisposableBase:
        """Start ingesting ``source``; :meth:`close` unsubscribes."""
        if self._subscription is not None:
            raise RuntimeError(f"{type(self).__name__} is already subscribed to a source")
        self._subscription = source.subscribe(self.on_next, self.on_error, self.on_completed)
        _cells.track(self)
        return self._subscription

    def add_listener(self, callback: Callable[[], None]) -> abc.DisposableBase:
        """Call ``callback()`` after every change (keep it cheap: mark something dirty)."""
        self._listeners.append(callback)

        def remove() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return Disposable(remove)

    def _changed(self) -> None:
        for cb in self._listeners:
            cb()

    def _record(self, message: str) -> None:
        self.errors.append(message)
        log.warning("%s %s: %s", type(self).__name__, self.name or "", message)

    def close(self) -> None:
        """Unsubscribe from the source and stop refreshing views. The data stays readable."""
        self.closed = True
        if self._subscription is not None:
            self._subscription.dispose()
        if self._widget is not None:
            self._widget.close()
            self._widget = None

    # ----------------------------------------------------------------------------- display

    def _repr_html_(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def widget(self) -> LiveHTML:
        """An HTML widget showing this frame, refreshed at ``render_fps`` while it is shown."""
        if self._widget is not None and self._widget.comm is not None:
            return self._widget
        w = LiveHTML(value=self._repr_html_())
        binding = LiveBinding(
            w, lambda: setattr(w, "value", self._repr_html_()), max_fps=self.render_fps,
            scheduler=self._render_scheduler, name=f"{type(self).__name__}({self.name})",
        )
        binding.own(self.add_listener(binding.changed))
        self._widget = w
        return w

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """A live widget for widget frontends, plus static HTML and text for the others."""
        bundle: dict[str, Any] = {}
        try:
            bundle.update(self.widget()._repr_mimebundle_())
        except Exception:  # no widget support: the static forms still work
            log.debug("live widget unavailable", exc_info=True)
        bundle["text/html"] = self._repr_html_()
        bundle["text/plain"] = repr(self)
        return bundle
