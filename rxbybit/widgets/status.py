"""StatusBar: connection state, message rate, last-message age, reconnects and resyncs."""

from __future__ import annotations

from typing import Any

import ipywidgets
import reactivex as rx
import traitlets

from ..client.health import Health
from ..client.stream import Provenance
from ..display import RenderScheduler, esc
from ._base import LiveWidget

_COLORS = {"connected": "#16a34a", "connecting": "#ca8a04", "reconnecting": "#ea580c", "closed": "#dc2626"}


class StatusBar(LiveWidget):
    """One line of connection health from ``bybit.health``; says SIMULATED for simulator data, and
    "closed" once the health stream completes (the client was closed), never a stale rate.

    Example::

        rb.widgets.StatusBar(bybit.health)
    """

    state = traitlets.Unicode("idle", help="connection state")
    network = traitlets.Unicode("", help="network name")
    simulated = traitlets.Bool(False, help="True when the data comes from the simulator")
    msgs_per_s = traitlets.Float(0.0)
    last_message_age_s = traitlets.Float(None, allow_none=True)
    reconnects = traitlets.Int(0)
    resyncs = traitlets.Int(0)
    last_error = traitlets.Unicode(None, allow_none=True)

    def __init__(
        self, health: rx.Observable[Health], *, render_fps: float = 2.0, scheduler: RenderScheduler | None = None
    ) -> None:
        self.line = ipywidgets.HTML("<i>no health report yet</i>")
        super().__init__([self.line], render_fps=render_fps, scheduler=scheduler)
        self.health: Health | None = None
        self._follow(health, self._take)

    def _take(self, item: Any) -> None:
        if not isinstance(item, Health):
            raise TypeError(f"StatusBar takes Health reports, got a {type(item).__name__}")
        self.health = item

    def _describe(self) -> str:
        h = self.health
        if h is None:
            return "no report yet"
        return f"{self.state} ({h.network}) {self.msgs_per_s:,.1f} msg/s"

    def _render(self) -> None:
        h = self.health
        if h is None:
            if self.source_completed:
                self.state = "closed"
                self.line.value = '<div style="font-size:12px;font-family:monospace">closed</div>'
            return
        if self.source_completed:
            self.state = "closed"
            self.simulated = h.simulated
            self._label_from(Provenance.SIMULATED if h.simulated else Provenance.LIVE)
            self.msgs_per_s = 0.0
            dot = f'<span style="color:{_COLORS["closed"]}">&#9679;</span>'
            self.line.value = (
                f'<div style="font-size:12px;font-family:monospace">{self._badge()} {dot} closed '
                f"({esc(h.network)}) &middot; streams completed &middot; reconnects {h.reconnects} &middot; "
                f"resyncs {h.resyncs}</div>"
            )
            return
        self.state = h.state
        self.network = h.network
        self.simulated = h.simulated
        self._label_from(Provenance.SIMULATED if h.simulated else Provenance.LIVE)
        self.msgs_per_s = float(h.msgs_per_s)
        self.last_message_age_s = h.last_message_age_s
        self.reconnects = h.reconnects
        self.resyncs = h.resyncs
        self.last_error = h.last_error
        age = "-" if h.last_message_age_s is None else f"{h.last_message_age_s:.1f}s"
        dot = f'<span style="color:{_COLORS.get(h.state, "#6b7280")}">&#9679;</span>'
        err = f' &middot; <span style="color:#dc2626">{esc(h.last_error)}</span>' if h.last_error else ""
        self.line.value = (
            f'<div style="font-size:12px;font-family:monospace">{self._badge()} {dot} {esc(h.state)} '
            f"({esc(h.network)}) &middot; {h.msgs_per_s:,.1f} msg/s &middot; last {age} &middot; "
            f"reconnects {h.reconnects} &middot; resyncs {h.resyncs}{err}</div>"
        )
