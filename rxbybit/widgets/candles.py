"""Candles: a live candlestick chart (bqplot, a core-ipywidgets plotting library)."""

from __future__ import annotations

from typing import Any

import bqplot  # type: ignore[import-untyped]
import ipywidgets
import numpy as np
import reactivex as rx
import traitlets

from ..display import RenderScheduler, esc
from ..frames import LiveFrame
from ..ops import to_ohlc
from ..protocol import Candle
from ._base import LiveWidget


class Candles(LiveWidget):
    """A candlestick chart of a candle stream (``bybit.klines(...)`` or ``ops.to_ohlc``), live.

    Example::

        rb.widgets.Candles(bybit.klines("BTCUSDT", interval="1"))
        rb.widgets.Candles(trades, freq="1min")       # builds candles from trades with ops.to_ohlc

    The open candle updates in place; at most ``max_candles`` are kept. The chart is a bqplot
    ``Figure`` (``self.figure``) so it can be styled like any bqplot figure.
    """

    candles = traitlets.Int(0, help="candles shown")
    last_close = traitlets.Float(None, allow_none=True, help="close of the newest candle shown")

    def __init__(
        self,
        source: LiveFrame | rx.Observable[Any],
        *,
        freq: str | None = None,
        max_candles: int = 200,
        title: str = "",
        simulated: bool | None = None,
        render_fps: float = 2.0,
        scheduler: RenderScheduler | None = None,
        height: str = "320px",
    ) -> None:
        self.header = ipywidgets.HTML()
        x = bqplot.DateScale()
        y = bqplot.LinearScale()
        self.mark = bqplot.OHLC(
            x=np.array([], dtype="datetime64[ms]"), y=np.zeros((0, 4)), scales={"x": x, "y": y},
            marker="candle", stroke="#374151", colors=["#16a34a", "#dc2626"],
        )
        self.figure = bqplot.Figure(
            marks=[self.mark],
            axes=[bqplot.Axis(scale=x, label="time (UTC)", tick_format="%H:%M:%S"),
                  bqplot.Axis(scale=y, side="left", tick_format=",.6~g")],
            fig_margin={"top": 10, "bottom": 40, "left": 80, "right": 10},
            layout=ipywidgets.Layout(width="100%", height=height),
        )
        super().__init__([self.header, self.figure], render_fps=render_fps, scheduler=scheduler)
        self.title = title
        if isinstance(source, LiveFrame):
            self.frame = source
        else:
            stream = source.pipe(to_ohlc(freq)) if freq is not None else source
            self.frame = LiveFrame(max_candles, key="start", simulated=simulated, name=title, scheduler=scheduler)
            self.frame.label_from(stream)
            self._own(stream.subscribe(self._take, self.frame.on_error, self.frame.on_completed))
            self._binding.on_close(self.frame.close)
        self._label_from(self.frame, simulated)
        self.max_candles = max_candles
        self._own(self.frame.add_listener(self._binding.changed))
        self._render()

    def _describe(self) -> str:
        name = self.title or self.frame.name
        return f"{name!r} {self.candles} candles" if name else f"{self.candles} candles"

    def close(self) -> None:
        """Release subscriptions and close the chart's bqplot models too."""
        for axis in self.figure.axes:
            axis.close()
        for scale in self.mark.scales.values():
            scale.close()
        self.mark.close()
        super().close()

    def _take(self, item: Any) -> None:
        if not isinstance(item, Candle):
            self._record(f"dropped one item: Candles takes Candle items (or trades with freq=...), "
                         f"got a {type(item).__name__}")
            return
        self.frame.on_next(item)

    def _render(self) -> None:
        f = self.frame
        self.header.value = (
            f'<div style="font-size:12px">{self._badge()} <b>{esc(self.title or f.name)}</b></div>'
        )
        df = f.tail(self.max_candles)
        if not len(df):
            return
        missing = [c for c in ("open", "high", "low", "close") if c not in df.columns]
        if missing:
            self._record(f"the frame has no {missing} columns: not a candle frame")
            return
        x = df.index.tz_convert(None).to_numpy(dtype="datetime64[ms]")
        y = df[["open", "high", "low", "close"]].to_numpy(dtype=np.float64)
        with self.mark.hold_sync():  # one message for x and y together
            self.mark.x = x
            self.mark.y = y
        self.candles = len(df)
        self.last_close = float(y[-1, 3])
