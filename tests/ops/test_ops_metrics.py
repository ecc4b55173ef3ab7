"""mid, spread, imbalance, vwap, rolling: values against hand computations, timing with TestScheduler."""

from __future__ import annotations

import dataclasses
import math
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
import reactivex as rx
from frames_helpers import T0, book_view, trade
from reactivex import operators as rxops
from reactivex.testing import ReactiveTest, TestScheduler

from rxbybit import ops
from rxbybit.client.stream import Provenance, Stream
from rxbybit.ops import Point
from rxbybit.protocol import Ticker

on_next, on_completed, on_error = ReactiveTest.on_next, ReactiveTest.on_completed, ReactiveTest.on_error


def collect(source: rx.Observable[Any]) -> list[Any]:
    out: list[Any] = []
    source.subscribe(out.append)
    return out


def test_metric_points_come_out_at_the_virtual_time_their_book_came_in() -> None:
    sched = TestScheduler()
    b1 = book_view([(99.0, 3.0)], [(101.0, 1.0)], ts=T0)
    b2 = book_view([(100.0, 1.0)], [(100.5, 1.0)], ts=T0 + 7)
    xs = sched.create_hot_observable(on_next(210, b1), on_next(220, b2), on_completed(300))
    res = sched.start(lambda: xs.pipe(ops.mid()))
    assert res.messages == [
        on_next(210, Point(T0, 100.0, "BTCUSDT")),
        on_next(220, Point(T0 + 7, 100.25, "BTCUSDT")),
        on_completed(300),
    ]
    assert xs.subscriptions == [ReactiveTest.subscribe(200, 300)]


def test_spread_imbalance_and_empty_sides() -> None:
    b = book_view([(99.0, 3.0), (98.0, 1.0)], [(101.0, 1.0), (102.0, 3.0)])
    src = rx.of(b, book_view([], [(101.0, 1.0)]))
    assert collect(src.pipe(ops.spread())) == [Point(T0, 2.0, "BTCUSDT")]
    [bps] = collect(src.pipe(ops.spread(bps=True)))
    assert bps.value == pytest.approx(2.0 / 100.0 * 1e4)
    want = [Point(T0, (3.0 - 1.0) / 4.0, "BTCUSDT"), Point(T0, -1.0, "BTCUSDT")]
    assert collect(src.pipe(ops.imbalance(levels=1))) == want
    [two, _] = collect(src.pipe(ops.imbalance(levels=2)))
    assert two.value == 0.0
    with pytest.raises(ValueError):
        ops.imbalance(levels=0)


def test_tickers_work_as_book_sources() -> None:
    fields = {"bid1Price": 10.0, "ask1Price": 12.0, "bid1Size": 1.0, "ask1Size": 3.0}
    t = Ticker("ETHUSDT", T0, 1, MappingProxyType(fields))
    assert collect(rx.of(t).pipe(ops.mid())) == [Point(T0, 11.0, "ETHUSDT")]
    assert collect(rx.of(t).pipe(ops.imbalance())) == [Point(T0, -0.5, "ETHUSDT")]


def test_a_non_book_item_errors_that_subscriber_only() -> None:
    sched = TestScheduler()
    xs = sched.create_hot_observable(on_next(210, "nope"), on_next(220, book_view([(1.0, 1.0)], [(2.0, 1.0)])))
    plain = sched.create_observer()
    xs.subscribe(plain)
    res = sched.start(lambda: xs.pipe(ops.mid()))
    assert res.messages[0].time == 210 and "got a str" in str(res.messages[0].value.exception)
    assert len(plain.messages) == 2  # the source went on for its other subscriber


def test_vwap_cumulative_count_and_time_windows() -> None:
    ts_ = [trade(0, 100.0, 1.0), trade(10, 110.0, 3.0), trade(20, 90.0, 1.0)]
    cum = [p.value for p in collect(rx.from_iterable(ts_).pipe(ops.vwap()))]
    assert cum == pytest.approx([100.0, (100 + 330) / 4, (100 + 330 + 90) / 5])
    last2 = [p.value for p in collect(rx.from_iterable(ts_).pipe(ops.vwap(2)))]
    assert last2[-1] == pytest.approx((330 + 90) / 4)
    timed = [p.value for p in collect(rx.from_iterable(ts_).pipe(ops.vwap("10ms")))]
    assert timed == pytest.approx([100.0, 110.0, 90.0])  # window (t-10ms, t] holds one trade each
    with pytest.raises(ValueError):
        ops.vwap(0)


def test_vwap_matches_a_naive_computation_over_many_trades() -> None:
    rng = np.random.default_rng(1)
    prices = rng.uniform(50, 150, 3000)
    sizes = rng.uniform(0.01, 5, 3000)
    trades = [trade(i, float(p), float(s)) for i, (p, s) in enumerate(zip(prices, sizes, strict=True))]
    got = collect(rx.from_iterable(trades).pipe(ops.vwap(500)))
    want = (prices[-500:] * sizes[-500:]).sum() / sizes[-500:].sum()
    assert got[-1].value == pytest.approx(want, rel=1e-9)


def test_rolling_aggregates_points_and_numbers() -> None:
    pts = [Point(T0 + i * 1000, float(v)) for i, v in enumerate([1, 5, 2, 8, 3])]
    mean2 = [p.value for p in collect(rx.from_iterable(pts).pipe(ops.rolling(2)))]
    assert mean2 == [1.0, 3.0, 3.5, 5.0, 5.5]
    mx = [p.value for p in collect(rx.from_iterable(pts).pipe(ops.rolling("2s", "max")))]
    assert mx == [1.0, 5.0, 5.0, 8.0, 8.0]
    std = collect(rx.from_iterable(pts).pipe(ops.rolling(3, "std")))
    assert math.isnan(std[0].value) and std[-1].value == pytest.approx(np.std([2, 8, 3], ddof=1))
    custom = collect(rx.of(1.0, 2.0, 4.0).pipe(ops.rolling(3, lambda a: float(a.prod()))))
    assert custom[-1].value == 8.0
    src = rx.from_iterable([trade(0, size=2.0), trade(1, size=3.0)])
    vol = collect(src.pipe(ops.rolling(5, "sum", value=lambda t: t.size)))
    assert vol[-1].value == 5.0


def test_rolling_rejects_bad_arguments_and_untimed_items_in_time_windows() -> None:
    with pytest.raises(ValueError, match="unknown agg"):
        ops.rolling(3, "mode")
    with pytest.raises(ValueError, match="neither a count nor a time span"):
        ops.rolling("soon")
    errors: list[Exception] = []
    rx.of(1.0).pipe(ops.rolling("1s")).subscribe(on_error=errors.append)
    assert "needs items with a ts" in str(errors[0])


def test_points_feed_frames() -> None:
    f = rx.of(book_view([(99.0, 1.0)], [(101.0, 1.0)])).pipe(ops.mid(), ops.to_frame())
    assert f.df["value"].tolist() == [100.0] and f.df.index.name == "ts"


def test_operators_compose_with_reactivex_operators() -> None:
    got = collect(rx.from_iterable([trade(i, float(i + 1)) for i in range(4)]).pipe(ops.vwap(), rxops.take(2)))
    assert len(got) == 2


def test_public_names_of_ops_frames_display_and_widgets() -> None:
    import rxbybit
    from rxbybit import display, frames, widgets

    assert set(ops.__all__) == {"Point", "imbalance", "mid", "rolling", "spread", "to_book", "to_frame", "to_ohlc",
                                "to_state", "vwap", "combine_latest", "merge", "zip"}
    assert all(callable(getattr(ops, n)) for n in ops.__all__)
    assert {"LiveFrame", "BookFrame", "StateFrame", "open_orders"} <= set(frames.__all__)
    assert not {"to_frame", "to_book", "to_state", "RenderScheduler"} & set(frames.__all__)  # ops / display own them
    assert {"RenderScheduler", "LiveBinding", "LiveHTML", "set_cell_provider", "badge"} <= set(display.__all__)
    assert all(hasattr(display, n) for n in display.__all__)
    assert {"LiveTable", "OrderBookLadder", "TickerBoard", "Candles", "StatusBar"} <= set(widgets.__all__)
    assert rxbybit.widgets is widgets and rxbybit.ops is ops


def _metrics(source: Stream[Any]) -> list[Stream[Any]]:
    return [source.pipe(ops.mid()), source.pipe(ops.spread()), source.pipe(ops.vwap()),
            source.pipe(ops.to_ohlc("1min")), source.pipe(ops.rolling(10)), source.pipe(ops.imbalance())]


@pytest.mark.parametrize("provenance", [Provenance.SIMULATED, Provenance.REPLAY, Provenance.LIVE])
def test_derived_streams_keep_the_provenance(provenance: Provenance) -> None:
    from reactivex.subject import Subject

    source = Stream.wrap(Subject(), provenance)
    for derived in _metrics(source):
        assert isinstance(derived, Stream) and derived.provenance is provenance
        frame = derived.pipe(ops.to_frame(max_rows=10))
        assert frame.provenance is provenance and frame.simulated == provenance.simulated
        frame.close()


def test_ops_on_a_plain_observable_give_live_streams() -> None:
    derived = rx.of(book_view([(99.0, 1.0)], [(101.0, 1.0)])).pipe(ops.mid())
    assert isinstance(derived, Stream) and derived.provenance is Provenance.LIVE
    assert derived.pipe(ops.to_frame()).label == ""


def test_a_plain_reactivex_chain_keeps_the_simulated_label_to_the_frame() -> None:
    source = Stream.wrap(rx.from_iterable([trade(i, 100.0 + i) for i in range(6)]), Provenance.SIMULATED)
    chained = source.pipe(rxops.map(lambda t: dataclasses.replace(t, price=t.price * 2)),
                          rxops.filter(lambda t: t.price > 201.0))
    frame = chained.pipe(ops.to_frame())
    assert len(frame) == 5 and frame.provenance is Provenance.SIMULATED
    assert "SIMULATED" in repr(frame) and ">SIMULATED</span>" in frame._repr_html_()
    bars = chained.pipe(ops.to_ohlc("1min"), ops.to_frame())  # reactivex, then ops, then a frame
    assert bars.provenance is Provenance.SIMULATED


def test_a_replayed_stream_is_shown_as_replay_through_the_chain() -> None:
    recording = Stream.wrap(rx.from_iterable([trade(i) for i in range(3)]), Provenance.REPLAY)
    points = recording.pipe(rxops.filter(lambda t: True), ops.vwap(), rxops.map(lambda p: p))
    frame = points.pipe(ops.to_frame())
    assert frame.provenance is Provenance.REPLAY and len(frame) == 3
    assert "REPLAY" in repr(frame) and "SIMULATED" not in repr(frame)


def test_a_frame_in_the_same_pipe_call_as_reactivex_operators_keeps_the_label() -> None:
    source = Stream.wrap(rx.from_iterable([trade(i) for i in range(3)]), Provenance.SIMULATED)
    frame = source.pipe(rxops.map(lambda t: t), rxops.filter(lambda t: True), ops.to_frame())
    assert frame.provenance is Provenance.SIMULATED
