"""What the live frames share: feeding from an observable, change listeners, errors, the
provenance label and a self-refreshing notebook display (built on :mod:`rxbybit.display`)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, TypedDict, Unpack

import pandas as pd
import reactivex as rx
from reactivex import abc
from reactivex.disposable import Disposable

from ..client.stream import Provenance
from ..display import LiveHTML, RenderScheduler, live_html, mimebundle, track_cell
from .provenance import resolve_provenance, shown_label

log = logging.getLogger("rxbybit.frames")

MAX_ERRORS = 100


class FrameOptions(TypedDict, total=False):
    """Keyword options every live frame (and every ``ops.to_*`` that makes one) takes."""

    provenance: Provenance | None
    """The label to show; default: the provenance of the stream the frame subscribes to."""
    simulated: bool | None
    """``True`` labels live data SIMULATED, ``False`` shows it as live (kept for older code)."""
    name: str
    """A label for reprs and widgets."""
    render_fps: float
    """Most refreshes a second of the frame's widget (default 4)."""
    scheduler: RenderScheduler | None
    """The render scheduler (default: the global one)."""


class LiveBase:
    """Base of the live frames: an Rx observer that keeps state and renders itself.

    The frame's :attr:`provenance` is the one given, else that of the stream it subscribes to.
    """

    name: str

    def __init__(self, **options: Unpack[FrameOptions]) -> None:
        self.check_options(options)
        provenance, simulated = options.get("provenance"), options.get("simulated")
        self._given = (provenance, simulated)
        resolve_provenance(provenance=provenance, simulated=simulated)  # contradictions fail now
        self._source: object = None
        self.name = options.get("name", "")
        self.render_fps = options.get("render_fps", 4.0)
        self._render_scheduler = options.get("scheduler")
        self._listeners: list[Callable[[], None]] = []
        self._subscription: abc.DisposableBase | None = None
        self._widget: LiveHTML | None = None
        self.errors: deque[str] = deque(maxlen=MAX_ERRORS)
        """The latest problems met (bad items, bad values, a failed stream), newest last."""
        self.error: Exception | None = None
        """The exception that ended the source stream, if it failed."""
        self.completed = False
        self.closed = False

    @staticmethod
    def check_options(options: Mapping[str, object]) -> None:
        """Raise ``TypeError`` naming any key of ``options`` that is not a :class:`FrameOptions` key."""
        known = FrameOptions.__annotations__
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise TypeError(f"unexpected frame option(s) {', '.join(map(repr, unknown))}; "
                            f"frames take {', '.join(known)}")

    # ----------------------------------------------------------------------------- provenance

    @property
    def provenance(self) -> Provenance:
        """Where the rows come from (LIVE, SIMULATED or REPLAY); reprs and widgets show its label.

        Asked of the source stream each time, so a client that learns on connect that its URL is
        the simulator relabels frames made before."""
        given, simulated = self._given
        return resolve_provenance(self._source, provenance=given, simulated=simulated)

    @property
    def simulated(self) -> bool:
        """True when the data is not the live market's (read-only; see :attr:`provenance`)."""
        return self.provenance.simulated

    @property
    def label(self) -> str:
        """The label shown: ``"SIMULATED"``, ``"REPLAY"``, or ``""`` for live data."""
        return shown_label(self.provenance)

    def label_from(self, source: object) -> None:
        """Show the provenance of ``source`` (a typed stream) without subscribing to it, for a frame
        fed by hand from that stream."""
        self._source = source

    def _tagged(self, kind: str) -> str:
        """``kind`` followed by the label, for reprs (``"LiveFrame SIMULATED"``)."""
        label = self.label
        return f"{kind} {label}" if label else kind

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
        """Start ingesting ``source`` and take its provenance unless one was given; :meth:`close`
        unsubscribes."""
        if self._subscription is not None:
            raise RuntimeError(f"{type(self).__name__} is already subscribed to a source")
        self._source = source
        self._subscription = source.subscribe(self.on_next, self.on_error, self.on_completed)
        track_cell(self)
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

    # ----------------------------------------------------------------------------- reading

    @property
    def df(self) -> pd.DataFrame:  # pragma: no cover - abstract
        """The current state as a pandas DataFrame (every frame has one)."""
        raise NotImplementedError

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    # ----------------------------------------------------------------------------- display

    def _repr_html_(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def widget(self) -> LiveHTML:
        """An HTML widget showing this frame, refreshed at ``render_fps`` while it is shown."""
        if self._widget is not None and self._widget.comm is not None:
            return self._widget
        self._widget = live_html(self._repr_html_, self.add_listener, max_fps=self.render_fps,
                                 scheduler=self._render_scheduler, name=f"{type(self).__name__}({self.name})")
        return self._widget

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """A live widget for widget frontends, plus static HTML and text for the others."""
        return mimebundle(self.widget, self._repr_html_(), repr(self))
