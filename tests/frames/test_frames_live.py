"""LiveFrame: rows from stream items, bounded windows, lazy cached DataFrames, errors that keep data."""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np
import pandas as pd
import pytest
import reactivex as rx
from frames_helpers import T0, trade
from reactivex.subject import Subject

from rxbybit import ops
from rxbybit.client.stream import Provenance, Stream
from rxbybit.frames import LiveFrame
from rxbybit.frames import live as live_mod
from rxbybit.protocol import Candle, Ticker


def test_trades_become_typed_columns_with_a_utc_exchange_time_index() -> None:
    f = LiveFrame(100)
    f.extend([trade(0, 100.5, 0.25), trade(1, 101.0, 2.0, side="Sell")])
    df = f.df
    assert isinstance(df.index, pd.DatetimeIndex)
    assert str(df.index.tz) == "UTC"
    assert df.index[0] == pd.Timestamp(T0, unit="ms", tz="UTC")
    assert df.index.name == "ts"
    assert df["price"].dtype == np.float64 and df["size"].dtype == np.float64
    assert df["price"].tolist() == [100.5, 101.0]
    assert df["side"].tolist() == ["Buy", "Sell"]
    assert df["block_trade"].dtype == bool
    assert "ts" not in df.columns


def test_max_rows_keeps_only_the_newest_rows_across_chunk_boundaries() -> None:
    f = LiveFrame(1000)
    n = live_mod.CHUNK * 2 + 17
    f.extend(trade(i, float(i)) for i in range(n))
    assert len(f) == 1000
    assert f.rows_received == n
    assert f.df["price"].iloc[0] == n - 1000
    assert f.df["price"].iloc[-1] == n - 1
    assert f.df.index.is_monotonic_increasing


def test_df_is_cached_until_the_next_change() -> None:
    f = LiveFrame(10)
    f.append(trade(0))
    first = f.df
    assert f.df is first
    f.append(trade(1))
    second = f.df
    assert second is not first
    assert len(second) == 2 and len(first) == 1  # what the user held did not change


def test_time_window_drops_rows_older_than_the_window() -> None:
    f = LiveFrame(1000, window="10ms")
    f.extend(trade(i, float(i), ts=T0 + 5 * i) for i in range(10))  # ts 0,5,...,45 ms
    assert f.df["price"].tolist() == [8.0, 9.0]  # > 45 - 10
    assert f.within("5ms")["price"].tolist() == [9.0]
    assert f.rows(1)["price"].tolist() == [9.0]
    with pytest.raises(ValueError, match="positive"):
        LiveFrame(10, window="0s")


def test_candles_with_the_same_start_update_the_open_row_in_place() -> None:
    def candle(start: int, close: float) -> Candle:
        return Candle(start, start + 59_999, "1", 1.0, 3.0, 0.5, close, 10.0, 20.0, False, start + 5)

    f = LiveFrame(10)
    f.extend([candle(0, 1.5), candle(0, 2.5), candle(60_000, 1.0)])
    assert f.df["close"].tolist() == [2.5, 1.0]
    f.flush()
    f.append(candle(60_000, 1.25))  # the open candle is in the ring now
    assert f.df["close"].tolist() == [2.5, 1.25]
    assert f.df.index.name == "start"


def test_ticker_mappings_use_their_ts_attribute_and_keep_strings_as_objects() -> None:
    fields = MappingProxyType({"symbol": "BTCUSDT", "lastPrice": 100.0, "tickDirection": "PlusTick"})
    f = LiveFrame(10)
    f.append(Ticker("BTCUSDT", T0, 1, fields))
    f.append(Ticker("BTCUSDT", T0 + 1, 2, {**fields, "lastPrice": 101.0}))
    assert f.df["lastPrice"].tolist() == [100.0, 101.0]
    assert f.df.index[1] == pd.Timestamp(T0 + 1, unit="ms", tz="UTC")


def test_private_dicts_with_string_times_get_typed_columns_and_keep_ids_exact() -> None:
    f = LiveFrame(10)
    f.append({"orderId": "a1", "orderStatus": "New", "price": "60000.10", "updatedTime": str(T0)})
    assert f.df["price"].tolist() == [60000.10]
    assert f.df["orderId"].tolist() == ["a1"]
    assert f.df.index[0] == pd.Timestamp(T0, unit="ms", tz="UTC")


def test_bad_items_raise_a_clear_error_when_appended_directly() -> None:
    f = LiveFrame(10)
    with pytest.raises(TypeError, match="timestamp"):
        f.append(1.5)
    f.append(trade(0))
    with pytest.raises(TypeError, match="holds Trade rows, got a dict"):
        f.append({"ts": 1})
    assert len(f) == 1


def test_a_bad_item_in_a_stream_is_recorded_and_the_stream_goes_on_for_everyone() -> None:
    s: Subject[object] = Subject()
    other: list[object] = []
    s.subscribe(other.append)
    f = s.pipe(ops.to_frame(max_rows=10))
    s.on_next(trade(0))
    s.on_next("garbage")
    s.on_next(trade(1))
    assert len(f) == 2
    assert len(other) == 3
    assert any("garbage" in e for e in f.errors)


def test_unreadable_numbers_become_nan_with_a_recorded_error_and_rows_are_kept() -> None:
    f = LiveFrame(10)
    f.append({"ts": T0, "price": 1.0})
    f.append({"ts": T0 + 1, "price": "not-a-number"})
    f.append({"ts": T0 + 2, "price": "3.5"})
    prices = f.df["price"].tolist()
    assert prices[0] == 1.0 and math.isnan(prices[1]) and prices[2] == 3.5
    assert any("'price'" in e and "not-a-number" in e for e in f.errors)


def test_a_failed_source_keeps_the_rows_received() -> None:
    s: Subject[object] = Subject()
    f = s.pipe(ops.to_frame())
    s.on_next(trade(0))
    s.on_error(RuntimeError("boom"))
    assert len(f) == 1
    assert isinstance(f.error, RuntimeError)
    assert "stream failed" in repr(f)


def test_close_unsubscribes_from_the_source() -> None:
    s: Subject[object] = Subject()
    f = s.pipe(ops.to_frame())
    assert len(s.observers) == 1
    f.close()
    assert s.observers == []
    s.on_next(trade(0))
    assert len(f) == 0


def test_append_arrays_is_the_batched_path_and_checks_shapes() -> None:
    f = LiveFrame(5)
    f.append_arrays(np.arange(T0, T0 + 8), {"price": np.arange(8.0), "qty": np.ones(8)})
    assert f.df["price"].tolist() == [3.0, 4.0, 5.0, 6.0, 7.0]
    with pytest.raises(ValueError, match="exactly the columns"):
        f.append_arrays([T0], {"price": [1.0]})
    with pytest.raises(ValueError, match="rows"):
        f.append_arrays([T0, T0], {"price": [1.0], "qty": [1.0, 2.0]})
    assert len(f) == 5


def test_memory_stays_flat_after_the_ring_is_full() -> None:
    f = LiveFrame(1000)
    f.extend(trade(i) for i in range(1000))
    before = f.nbytes
    f.extend(trade(i) for i in range(1000, 20_000))
    assert f.nbytes == before
    assert len(f) == 1000


def test_frames_take_the_label_from_the_typed_stream() -> None:
    s: Subject[object] = Subject()
    f = Stream.wrap(s, Provenance.SIMULATED).pipe(ops.to_frame())
    s.on_next(trade(0))
    assert f.simulated and f.provenance is Provenance.SIMULATED
    assert "SIMULATED" in repr(f) and "SIMULATED" in f._repr_html_()
    real = LiveFrame(5)
    real.append(trade(0))
    assert real.provenance is Provenance.LIVE and not real.simulated
    assert "SIMULATED" not in repr(real) and "SIMULATED" not in real._repr_html_()
    with pytest.raises(AttributeError):
        f.simulated = False  # read-only: the label comes from the stream


def test_replayed_data_is_shown_as_replay() -> None:
    recording = Stream.wrap(rx.from_iterable([trade(i) for i in range(3)]), Provenance.REPLAY)
    f = recording.pipe(ops.to_frame())
    assert f.provenance is Provenance.REPLAY and f.simulated and f.label == "REPLAY"
    assert repr(f).startswith("LiveFrame REPLAY:") and ">REPLAY</span>" in f._repr_html_()
    assert "SIMULATED" not in repr(f) + f._repr_html_()


def test_explicit_labels_override_the_stream() -> None:
    plain = rx.from_iterable([trade(0)])
    assert plain.pipe(ops.to_frame(simulated=True)).provenance is Provenance.SIMULATED
    assert plain.pipe(ops.to_frame(provenance=Provenance.REPLAY)).provenance is Provenance.REPLAY
    replay = Stream.wrap(plain, Provenance.REPLAY)
    assert replay.pipe(ops.to_frame(simulated=True)).provenance is Provenance.REPLAY  # already not live
    assert replay.pipe(ops.to_frame(simulated=False)).provenance is Provenance.LIVE
    with pytest.raises(ValueError, match="contradicts"):
        LiveFrame(5, provenance=Provenance.LIVE, simulated=True)
    given = LiveFrame(5, provenance=Provenance.SIMULATED)
    given.subscribe_to(plain)  # the given label stays: the source is a plain observable
    assert given.provenance is Provenance.SIMULATED
    later = LiveFrame(5)
    later.subscribe_to(replay)  # none given: taken from the stream it follows
    assert later.provenance is Provenance.REPLAY


def test_columns_and_time_field_options_select_fields() -> None:
    f = LiveFrame(5, columns=["price", "size"])
    f.append(trade(0, 7.0, 2.0))
    assert list(f.df.columns) == ["price", "size"]
    with pytest.raises(ValueError, match="not fields"):
        LiveFrame(5, columns=["nope"]).append(trade(0))
    g = LiveFrame(5, time_field="when")
    g.append({"when": T0, "x": 1.0})
    assert g.df.index.name == "when"


def test_empty_frame_has_an_empty_utc_index() -> None:
    df = LiveFrame(5).df
    assert len(df) == 0 and str(df.index.tz) == "UTC"


def test_to_frame_on_a_cold_observable_collects_everything() -> None:
    f = rx.from_iterable([trade(i, float(i)) for i in range(3)]).pipe(ops.to_frame())
    assert f.completed and f.df["price"].tolist() == [0.0, 1.0, 2.0]


def test_unknown_options_are_refused_by_name() -> None:
    with pytest.raises(TypeError, match="'colums'"):
        LiveFrame(5, colums=["price"])  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'simulate'"):
        ops.to_frame(simulate=True)  # type: ignore[call-arg]  # refused before any stream is piped
    with pytest.raises(TypeError, match="'level'"):
        ops.to_book(level=3)  # type: ignore[call-arg]
