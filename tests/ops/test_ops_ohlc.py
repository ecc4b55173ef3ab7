"""to_ohlc: candles from trades, checked against pandas resample; emission timing with TestScheduler."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import reactivex as rx
from frames_helpers import T0, trade
from reactivex.testing import ReactiveTest, TestScheduler

from rxbybit import ops
from rxbybit.protocol import Candle

on_next, on_completed = ReactiveTest.on_next, ReactiveTest.on_completed


def closed(candles: list[Candle]) -> list[Candle]:
    return [c for c in candles if c.confirm]


@pytest.mark.parametrize("freq", ["1min", "5s", "15min"])
def test_closed_candles_match_pandas_resample(freq: str) -> None:
    rng = np.random.default_rng(7)
    ts = T0 + np.cumsum(rng.integers(0, 4_000, 2_000))
    prices = 100 + np.cumsum(rng.normal(0, 0.1, 2_000))
    sizes = rng.uniform(0.1, 2, 2_000)
    rows = enumerate(zip(ts, prices, sizes, strict=True))
    trades = [trade(i, float(p), float(s), ts=int(t)) for i, (t, p, s) in rows]
    got: list[Candle] = []
    rx.from_iterable(trades).pipe(ops.to_ohlc(freq)).subscribe(got.append)
    bars = closed(got)
    idx = pd.to_datetime(ts, unit="ms", utc=True)
    s = pd.Series(prices, index=idx)
    want = s.resample(freq, origin="epoch").ohlc().dropna()
    vol = pd.Series(sizes, index=idx).resample(freq, origin="epoch").sum()[want.index]
    assert len(bars) == len(want)
    assert [pd.Timestamp(c.start, unit="ms", tz="UTC") for c in bars] == list(want.index)
    np.testing.assert_allclose([c.open for c in bars], want["open"])
    np.testing.assert_allclose([c.high for c in bars], want["high"])
    np.testing.assert_allclose([c.low for c in bars], want["low"])
    np.testing.assert_allclose([c.close for c in bars], want["close"])
    np.testing.assert_allclose([c.volume for c in bars], vol)
    assert all(c.interval == freq for c in bars)


def test_each_trade_updates_the_open_candle_and_a_new_bucket_closes_it_at_the_same_tick() -> None:
    sched = TestScheduler()
    start = T0 - T0 % 60_000
    xs = sched.create_hot_observable(
        on_next(210, trade(0, 10.0, 1.0, ts=start + 1)),
        on_next(220, trade(1, 12.0, 1.0, ts=start + 2)),
        on_next(230, trade(2, 11.0, 2.0, ts=start + 60_000)),
        on_completed(240),
    )
    res = sched.start(lambda: xs.pipe(ops.to_ohlc("1min")))
    times = [m.time for m in res.messages]
    assert times == [210, 220, 230, 230, 240, 240]
    c = [m.value.value for m in res.messages[:-1]]
    assert (c[1].open, c[1].high, c[1].close, c[1].confirm) == (10.0, 12.0, 12.0, False)
    assert c[2].confirm and c[2].start == start and c[2].end == start + 59_999 and c[2].volume == 2.0
    assert c[2].turnover == pytest.approx(22.0)
    assert c[3].start == start + 60_000 and not c[3].confirm
    assert c[4].confirm and c[4].close == 11.0  # completion finishes the open candle


def test_close_mode_only_emits_finished_candles_and_late_trades_are_ignored() -> None:
    start = T0 - T0 % 1000
    got: list[Candle] = []
    rx.of(
        trade(0, 1.0, ts=start + 10), trade(1, 2.0, ts=start + 1500), trade(2, 99.0, ts=start + 20),
        trade(3, 3.0, ts=start + 1600),
    ).pipe(ops.to_ohlc("1s", emit="close")).subscribe(got.append)
    assert [(c.open, c.close, c.confirm) for c in got] == [(1.0, 1.0, True), (2.0, 3.0, True)]


def test_calendar_frequencies_label_buckets_by_their_start() -> None:
    march = int(pd.Timestamp("2024-03-15T12:00Z").value // 1_000_000)
    april = int(pd.Timestamp("2024-04-02T00:00Z").value // 1_000_000)
    got: list[Candle] = []
    rx.of(trade(0, 1.0, ts=march), trade(1, 2.0, ts=april)).pipe(ops.to_ohlc("MS", emit="close")).subscribe(got.append)
    assert [pd.Timestamp(c.start, unit="ms", tz="UTC") for c in got] == [
        pd.Timestamp("2024-03-01T00:00Z"), pd.Timestamp("2024-04-01T00:00Z")]
    assert got[0].end == int(pd.Timestamp("2024-04-01T00:00Z").value // 1_000_000) - 1


def test_bad_frequency_mixed_symbols_and_non_trades_fail_clearly() -> None:
    with pytest.raises(ValueError, match="not a pandas frequency"):
        ops.to_ohlc("fortnightly-ish")
    with pytest.raises(ValueError, match="whole number of milliseconds"):
        ops.to_ohlc("10us")
    errors: list[Exception] = []
    rx.of(trade(0), trade(1, symbol="ETHUSDT")).pipe(ops.to_ohlc()).subscribe(on_error=errors.append)
    assert "BTCUSDT and ETHUSDT" in str(errors[0])
    rx.of(3.0).pipe(ops.to_ohlc()).subscribe(on_error=errors.append)
    assert "needs trades" in str(errors[1])


def test_candles_from_trades_make_a_frame_with_one_row_per_candle() -> None:
    start = T0 - T0 % 60_000
    src = rx.of(trade(0, 1.0, ts=start), trade(1, 2.0, ts=start + 5), trade(2, 3.0, ts=start + 60_000))
    bars = src.pipe(ops.to_ohlc("1min"), ops.to_frame())
    assert bars.df["close"].tolist() == [2.0, 3.0]
    assert bars.df["confirm"].tolist() == [True, True]
