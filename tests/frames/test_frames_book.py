"""BookFrame: top levels of a book side by side, NaN-padded, immutable input kept."""

from __future__ import annotations

import math

import pytest
from frames_helpers import T0, book_view
from reactivex.subject import Subject

from rxbybit import ops
from rxbybit.frames import BookFrame
from rxbybit.protocol import BookUpdate, OrderBook


def test_levels_line_up_best_first_and_pad_with_nan() -> None:
    f = BookFrame(levels=3)
    f.update(book_view([(99.0, 1.0), (98.0, 2.0)], [(101.0, 3.0), (102.0, 4.0), (103.0, 5.0), (104.0, 6.0)]))
    df = f.df
    assert list(df.columns) == ["bid_size", "bid_price", "ask_price", "ask_size"]
    assert df["bid_price"].tolist()[:2] == [99.0, 98.0] and math.isnan(df["bid_price"].iloc[2])
    assert df["ask_price"].tolist() == [101.0, 102.0, 103.0]
    assert df["ask_size"].tolist() == [3.0, 4.0, 5.0]
    assert df.attrs["symbol"] == "BTCUSDT" and df.attrs["u"] == 5
    assert f.mid == 100.0 and f.spread == 2.0


def test_a_mutable_order_book_is_copied_so_later_deltas_do_not_change_the_frame() -> None:
    ob = OrderBook("BTCUSDT", depth=50)
    ob.apply(BookUpdate("t", "BTCUSDT", 50, True, T0, 1_000, 1, [(99.0, 1.0)], [(101.0, 1.0)]))
    f = BookFrame(levels=2)
    f.update(ob)
    held = f.df
    ob.apply(BookUpdate("t", "BTCUSDT", 50, False, T0 + 1, 1_001, 2, [(99.5, 1.0)], []))
    assert f.df is held
    assert f.best_bid == (99.0, 1.0)


def test_to_book_follows_the_stream_and_close_unsubscribes() -> None:
    s: Subject[object] = Subject()
    f = s.pipe(ops.to_book(levels=2, simulated=True))
    s.on_next(book_view([(99.0, 1.0)], [(101.0, 1.0)], u=1_000))
    s.on_next(book_view([(100.0, 1.0)], [(101.0, 1.0)], u=1_001))
    assert f.updates == 2 and f.df["bid_price"].iloc[0] == 100.0
    assert "SIMULATED" in repr(f) and "SIMULATED" in f._repr_html_()
    s.on_next("not a book")
    assert f.updates == 2 and "not a book" in f.errors[-1]
    f.close()
    assert s.observers == []


def test_bad_levels_and_non_books_are_rejected_clearly() -> None:
    with pytest.raises(ValueError, match="levels"):
        BookFrame(levels=0)
    with pytest.raises(TypeError, match="order book views"):
        BookFrame().update(42)
    empty = BookFrame(levels=2)
    assert empty.df.shape == (2, 4) and empty.mid is None and "no book yet" in repr(empty)
