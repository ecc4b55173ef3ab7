"""LineChart: lines of frames or streams over a moving window, a second y axis, UTC ticks, zoom/pan."""

from __future__ import annotations

import bqplot  # type: ignore[import-untyped]
import numpy as np
import pytest
import reactivex as rx
from frames_helpers import T0
from reactivex.subject import Subject

from rxbybit import ops, widgets
from rxbybit.client.stream import Provenance, Stream
from rxbybit.display import RenderScheduler
from rxbybit.ops import Point


def test_two_streams_on_two_axes_keep_only_the_window(renderer: RenderScheduler) -> None:
    vwap: Subject[Point] = Subject()
    spread: Subject[Point] = Subject()
    chart = widgets.LineChart({"vwap": Stream.wrap(vwap, Provenance.SIMULATED), "spread": spread},
                              y2=["spread"], window="10s", title="VWAP and spread")
    for i in range(30):  # one point a second for 30 s
        vwap.on_next(Point(T0 + i * 1000, 100.0 + i))
        spread.on_next(Point(T0 + i * 1000, 0.5))
    renderer.flush()
    v, s = chart.marks["vwap"], chart.marks["spread"]
    assert list(v.y) == [100.0 + i for i in range(20, 30)], "only the last 10 s"
    assert len(s.y) == 10 and v.scales["y"] is chart.y_scale and s.scales["y"] is chart.y2_scale
    assert np.datetime64(v.x[-1], "ms") == np.datetime64(T0 + 29_000, "ms")
    sides = {a.side for a in chart.figure.axes if a.orientation == "vertical"}
    assert sides == {"left", "right"}
    x_axis = next(a for a in chart.figure.axes if a.orientation != "vertical")
    assert x_axis.tick_format == "%H:%M:%S" and "UTC" in x_axis.label
    assert isinstance(chart.figure.interaction, bqplot.PanZoom)
    assert chart.simulated and "SIMULATED" in chart.header.value and chart.points == 20
    assert repr(chart).startswith("<LineChart SIMULATED 2 lines")
    chart.close()
    assert vwap.observers == [] and spread.observers == []


def test_columns_of_one_frame_and_bad_arguments(renderer: RenderScheduler) -> None:
    bars = rx.of(*[Point(T0 + i, float(i)) for i in range(5)]).pipe(ops.to_frame())
    chart = widgets.LineChart(bars, y=["value"], window=None)
    renderer.flush()
    assert list(chart.marks["value"].y) == [0.0, 1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match="y2 names"):
        widgets.LineChart(bars, y=["value"], y2=["nope"])
    with pytest.raises(TypeError, match="LiveFrames or streams"):
        widgets.LineChart({"x": 5})  # type: ignore[dict-item]
    chart.reset_view()
    assert chart.x_scale.min is None
    chart.close()
    assert not bars.closed, "a frame given by the user stays open"
