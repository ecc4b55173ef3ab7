"""LiveTable: the newest rows of a stream as a refreshing HTML table."""

from __future__ import annotations

from typing import Any

import ipywidgets
import reactivex as rx
import traitlets

from ..display import RenderScheduler, esc
from ..frames import LiveFrame
from ..ops import to_frame
from ._base import LiveWidget


class LiveTable(LiveWidget):
    """Show the newest ``rows`` of a :class:`~rxbybit.frames.LiveFrame` (or of any row stream).

    Example::

        rb.widgets.LiveTable(trades, rows=20)                 # makes and owns a LiveFrame
        rb.widgets.LiveTable(tape)                            # shows an existing frame
    """

    row_count = traitlets.Int(0, help="rows held by the frame at the last render")

    def __init__(
        self,
        source: LiveFrame | rx.Observable[Any],
        *,
        rows: int = 15,
        max_rows: int = 10_000,
        title: str = "",
        simulated: bool | None = None,
        render_fps: float = 4.0,
        scheduler: RenderScheduler | None = None,
    ) -> None:
        self.html = ipywidgets.HTML()
        """The one HTML child: header and table are sent together, one message per render."""
        super().__init__([self.html], render_fps=render_fps, scheduler=scheduler)
        self.rows = rows
        self.title = title
        if isinstance(source, LiveFrame):
            self.frame = source
        else:
            self.frame = to_frame(max_rows, simulated=simulated, name=title)(source)
            self._binding.on_close(self.frame.close)
        self._label_from(self.frame, simulated)
        self._own(self.frame.add_listener(self._binding.changed))
        self._render()

    def _render(self) -> None:
        f = self.frame
        n = len(f)
        problem = " (stream failed)" if f.error else ""
        header = (
            f'<div style="font-size:12px">{self._badge()} <b>{esc(self.title or f.name)}</b> '
            f"{n} rows{esc(problem)}</div>"
        )
        table = f.tail(self.rows).iloc[::-1].to_html(border=0) if n else "<i>waiting for data</i>"
        self.html.value = header + table
        self.row_count = n
