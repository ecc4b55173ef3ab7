"""LiveWidget: the base of every rxbybit widget.

It subscribes to its sources, keeps only Python state in ``on_next`` (every message is ingested,
nothing is rendered there), and sets trait values in ``_render``, which the global render
scheduler calls on the event loop at the widget's rate (newest state wins). ``close()`` (or
re-running the cell that made it) disposes its subscriptions. Its header shows the label of the
data's provenance (SIMULATED, REPLAY), read from the typed stream or the frame it shows.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import ipywidgets
import reactivex as rx
from reactivex import abc

from ..client.stream import Provenance
from ..display import LiveBinding, RenderScheduler, track_cell
from ..frames import LiveBase, provenance_badge, resolve_provenance

log = logging.getLogger("rxbybit.widgets")


class LiveWidget(ipywidgets.VBox):  # type: ignore[misc]
    """A VBox refreshed through the render scheduler; subclasses implement :meth:`_render`."""

    def __init__(
        self,
        children: list[ipywidgets.Widget],
        *,
        render_fps: float = 4.0,
        scheduler: RenderScheduler | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(children=children, **kwargs)
        self.errors: deque[str] = deque(maxlen=100)
        """Recent problems (bad items, failed sources), newest last."""
        self._binding = LiveBinding(self, self._render, max_fps=render_fps, scheduler=scheduler,
                                    name=type(self).__name__)
        self._label_source: object = None
        self._label_override: bool | None = None
        self.source_completed = False
        """True once a followed stream completed (its client closed, or a replay ended)."""
        track_cell(self)

    # ----------------------------------------------------------------------------- subclass API

    def _render(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _follow(self, source: rx.Observable[Any], on_item: Callable[[Any], None]) -> None:
        """Subscribe ``on_item`` to ``source``; a failing item is recorded, never raised into the stream."""

        def on_next(item: Any) -> None:
            try:
                on_item(item)
            except Exception as exc:
                self._record(f"dropped one item: {exc}")
                return
            self._binding.changed()

        def on_error(exc: Exception) -> None:
            self._record(f"source stream failed: {exc!r}")
            self._binding.changed()

        def on_completed() -> None:
            self.source_completed = True
            self._binding.changed()

        self._own(source.subscribe(on_next, on_error, on_completed))

    def _label_from(self, source: object, simulated: bool | None = None) -> None:
        """Show the provenance of ``source``: a typed stream, or a frame (followed as it changes);
        ``simulated`` overrides it as in :func:`~rxbybit.frames.resolve_provenance`."""
        self._label_source = source
        self._label_override = simulated

    def _badge(self) -> str:
        """The provenance badge for the header (empty for live data)."""
        return provenance_badge(self.provenance)

    def _own(self, disposable: abc.DisposableBase) -> None:
        self._binding.own(disposable)

    def _record(self, message: str) -> None:
        self.errors.append(message)
        log.warning("%s: %s", type(self).__name__, message)

    # ----------------------------------------------------------------------------- public

    @property
    def provenance(self) -> Provenance:
        """Where the data shown comes from (LIVE, SIMULATED or REPLAY); the header shows its label."""
        source = self._label_source
        if isinstance(source, LiveBase):
            base: object = source.provenance
        elif callable(source) and not isinstance(source, rx.Observable):
            base = source()  # a function telling the provenance (several sources combined)
        else:
            base = source
        return resolve_provenance(base, simulated=self._label_override)

    @property
    def simulated(self) -> bool:
        """True when the data shown is not the live market's (read-only; see :attr:`provenance`)."""
        return self.provenance.simulated

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran (subscriptions are released)."""
        binding: LiveBinding | None = getattr(self, "_binding", None)
        return binding is None or binding.closed

    @property
    def renders(self) -> int:
        """How many times this widget pushed new state to its traits."""
        return self._binding.job.renders

    def refresh(self) -> None:
        """Render the newest state now, outside the rate limits (scripts and tests)."""
        if not self.closed:
            self._binding.job.render_now()

    def _describe(self) -> str:
        """What the short repr says after the widget's name (subclasses add their state)."""
        return ""

    def __repr__(self) -> str:
        label = self.provenance.label if self.simulated else ""
        parts = [type(self).__name__, label, self._describe(), "closed" if self.closed else ""]
        return "<" + " ".join(p for p in parts if p) + ">"

    def close(self) -> None:
        """Dispose every subscription, stop refreshing and close the widget and its children."""
        binding: LiveBinding | None = getattr(self, "_binding", None)  # None if __init__ failed early
        if binding is not None:
            binding.close()
        for child in self.children:
            child.close()
        super().close()
