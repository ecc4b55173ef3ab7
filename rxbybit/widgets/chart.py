"""LineChart: live lines over a moving time window, with a second y axis, zoom and pan (bqplot).

The VWAP-and-spread chart in three lines::

    vwap = bybit.trades("BTCUSDT").pipe(ops.vwap("1min"))
    spread = bybit.orderbook("BTCUSDT").pipe(ops.spread())
    rb.widgets.LineChart({"vwap": vwap, "spread": spread}, y2=["spread"], window="5min")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import bqplot  # type: ignore[import-untyped]
import ipywidgets
import numpy as np
import pandas as pd
import reactivex as rx
import traitlets

from ..client.stream import strongest
from ..display import RenderScheduler, esc
from ..frames import LiveBase, LiveFrame, window_ms
from ..ops import to_frame
from ._base import LiveWidget

COLORS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")
TIME_FORMAT = "%H:%M:%S"
"""The time axis' one tick format, always in UTC (bqplot formats it with d3's UTC formatter)."""


class LineChart(LiveWidget):
    """Live lines of one or more columns over the last ``window`` of exchange time.

    ``source`` is a :class:`~rxbybit.frames.LiveFrame` or a stream (``y`` names its columns), or a
    mapping of line name to frame or stream of ``Point`` s (each drawn from its ``value`` column,
    or from the column ``y`` names). Lines named in ``y2`` use a second y axis on the right. The
    time axis is UTC; drag to pan, scroll to zoom (``reset_view()`` follows the data again).

    Example::

        rb.widgets.LineChart(bars, y=["close"], window="30min")
        rb.widgets.LineChart({"mid": book.pipe(ops.mid()), "spread (bps)": book.pipe(ops.spread(bps=True))},
                             y2=["spread (bps)"])
    """

    points = traitlets.Int(0, help="points drawn at the last render, all lines together")

    def __init__(
        self,
        source: LiveFrame | rx.Observable[Any] | Mapping[str, LiveFrame | rx.Observable[Any]],
        y: str | Sequence[str] = "value",
        *,
        y2: Sequence[str] = (),
        window: str | pd.Timedelta | float | None = "5min",
        max_rows: int = 20_000,
        title: str = "",
        simulated: bool | None = None,
        height: str = "320px",
        render_fps: float = 2.0,
        scheduler: RenderScheduler | None = None,
    ) -> None:
        self.window = window
        self._window_ms = window_ms(window)
        ys = [y] if isinstance(y, str) else list(y)
        self._lines: list[tuple[str, LiveFrame, str]] = []  # (line name, frame, column)
        owned: list[LiveFrame] = []
        if isinstance(source, Mapping):
            column = ys[0] if ys else "value"
            for name, src in source.items():
                frame = self._frame_of(src, max_rows, simulated, name, owned)
                self._lines.append((str(name), frame, column))
            frames = [f for _, f, _ in self._lines]
            label_source: object = lambda: strongest([f.provenance for f in frames])  # noqa: E731
        else:
            frame = self._frame_of(source, max_rows, simulated, title, owned)
            self._lines = [(c, frame, c) for c in ys]
            label_source = frame
        if not self._lines:
            raise ValueError("LineChart needs at least one line: give y=[...] or a mapping of streams")
        names = [n for n, _, _ in self._lines]
        unknown = [n for n in y2 if n not in names]
        if unknown:
            raise ValueError(f"y2 names {unknown} are not lines of this chart (lines: {names})")
        self.y2 = tuple(y2)

        self.x_scale = bqplot.DateScale()
        self.y_scale = bqplot.LinearScale()
        self.y2_scale = bqplot.LinearScale()
        self.marks: dict[str, bqplot.Lines] = {}
        for i, name in enumerate(names):
            scale = self.y2_scale if name in self.y2 else self.y_scale
            self.marks[name] = bqplot.Lines(
                x=np.array([], dtype="datetime64[ms]"), y=np.array([], dtype=np.float64),
                scales={"x": self.x_scale, "y": scale}, colors=[COLORS[i % len(COLORS)]], labels=[name],
                display_legend=True, stroke_width=1.5,
            )
        axes = [
            bqplot.Axis(scale=self.x_scale, label="time (UTC)", tick_format=TIME_FORMAT, grid_lines="none"),
            bqplot.Axis(scale=self.y_scale, orientation="vertical", side="left", tick_format=",.6~g",
                        label=", ".join(n for n in names if n not in self.y2), label_offset="70px"),
        ]
        if self.y2:
            axes.append(bqplot.Axis(scale=self.y2_scale, orientation="vertical", side="right",
                                    tick_format=",.6~g", grid_lines="none", label=", ".join(self.y2),
                                    label_offset="55px"))
        self.panzoom = bqplot.PanZoom(scales={"x": [self.x_scale], "y": [self.y_scale, self.y2_scale]})
        self.figure = bqplot.Figure(
            marks=list(self.marks.values()), axes=axes, interaction=self.panzoom, legend_location="top-left",
            fig_margin={"top": 10, "bottom": 40, "left": 90, "right": 80 if self.y2 else 20},
            layout=ipywidgets.Layout(width="100%", height=height),
        )
        self.header = ipywidgets.HTML()
        super().__init__([self.header, self.figure], render_fps=render_fps, scheduler=scheduler)
        self.title = title
        for f in owned:
            self._binding.on_close(f.close)
        self._label_from(label_source, simulated)
        for f in {id(f): f for _, f, _ in self._lines}.values():
            self._own(f.add_listener(self._binding.changed))
        self._render()

    @staticmethod
    def _frame_of(src: Any, max_rows: int, simulated: bool | None, name: str, owned: list[LiveFrame]) -> LiveFrame:
        if isinstance(src, LiveFrame):
            return src
        if isinstance(src, LiveBase):
            raise TypeError(f"LineChart draws rows over time: give a LiveFrame or a stream, not a {type(src).__name__}")
        if not isinstance(src, rx.Observable):
            raise TypeError(f"LineChart takes LiveFrames or streams, got a {type(src).__name__}")
        frame = to_frame(max_rows, simulated=simulated, name=name)(src)
        owned.append(frame)
        return frame

    @property
    def frames(self) -> dict[str, LiveFrame]:
        """The frame behind each line."""
        return {name: f for name, f, _ in self._lines}

    def reset_view(self) -> None:
        """Forget zoom and pan: the axes follow the data again."""
        with self.figure.hold_sync():
            for scale in (self.x_scale, self.y_scale, self.y2_scale):
                scale.min = None
                scale.max = None

    def _render(self) -> None:
        self.header.value = f'<div style="font-size:12px">{self._badge()} <b>{esc(self.title)}</b></div>'
        newest = max((f.last_ts for _, f, _ in self._lines if f.last_ts is not None), default=None)
        total = 0
        with self.figure.hold_sync():
            for name, frame, column in self._lines:
                df = frame.df
                if column not in df.columns:
                    if len(df):
                        self._record(f"line {name!r}: the frame has no column {column!r} ({list(df.columns)})")
                    continue
                if self._window_ms is not None and newest is not None and len(df):
                    cutoff = pd.Timestamp(newest - self._window_ms, unit="ms", tz="UTC")
                    df = df[df.index > cutoff]
                x = df.index.tz_convert(None).to_numpy(dtype="datetime64[ms]")
                y = df[column].to_numpy(dtype=np.float64)
                mark = self.marks[name]
                mark.x = x
                mark.y = y
                total += len(x)
        self.points = total

    def _describe(self) -> str:
        return f"{len(self._lines)} lines {self.points} points window={self.window}"
