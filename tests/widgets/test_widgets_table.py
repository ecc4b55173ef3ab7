"""LiveTable takes every frame type and formats like a trading screen: decimals per column,
newest first, buy/sell colours, ids that do not wrap, a scrolling body; plus short reprs."""

from __future__ import annotations

import re

import pytest
import reactivex as rx
from frames_helpers import T0, book_view, trade
from reactivex.subject import Subject

from rxbybit import frames, ops, widgets
from rxbybit.client.stream import Provenance, Stream
from rxbybit.display import RenderScheduler


def _cells(html: str, cls: str) -> list[list[str]]:
    rows = re.findall(rf'<tr class="rxbybit-row rxbybit-{cls}"[^>]*>(.*?)</tr>', html)
    return [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows]


def test_every_frame_type_is_accepted(renderer: RenderScheduler) -> None:
    src: Subject[dict[str, object]] = Subject()
    orders = frames.open_orders(src)
    book = rx.of(book_view([(100.0, 1.0)], [(100.5, 2.0)])).pipe(ops.to_book(levels=3))
    tape = rx.of(trade(0), trade(1)).pipe(ops.to_frame())
    tables = [widgets.LiveTable(f) for f in (orders, book, tape)]
    src.on_next({"orderId": "o-1", "orderStatus": "New", "side": "Buy", "price": "60000.5", "qty": "0.010",
                 "updatedTime": str(T0), "orderLinkId": "a-very-long-client-order-id-that-must-not-wrap"})
    renderer.flush()
    assert "60,000.5" in tables[0].html.value and "o-1" in tables[0].html.value
    assert "100.5" in tables[1].html.value and tables[2].row_count == 2
    assert 'class="id" title="a-very-long-client-order-id' in tables[0].html.value  # ellipsis, no wrap
    with pytest.raises(TypeError, match="live frame or a stream"):
        widgets.LiveTable(42)  # type: ignore[arg-type]
    for t in tables:
        t.close()


def test_columns_decimals_colours_and_newest_first(renderer: RenderScheduler) -> None:
    s: Subject[object] = Subject()
    w = widgets.LiveTable(s, rows=4, columns=["side", "price", "size"], tick_size="0.01", lot_size="0.001")
    s.on_next(trade(0, 0.15, 1.0, side="Buy"))
    s.on_next(trade(1, 0.1523, 2.5, side="Sell"))
    renderer.flush()
    html = w.html.value
    sells, buys = _cells(html, "sell"), _cells(html, "buy")
    assert sells[0][1:] == ["Sell", "0.15", "2.500"]  # tick decimals: 0.1523 shows 0.15
    assert buys[0][1:] == ["Buy", "0.15", "1.000"]
    assert html.index("rxbybit-sell") < html.index("rxbybit-buy"), "newest first"
    assert "#b91c1c" in html and "#15803d" in html
    assert "overflow:auto" in html and "position:sticky" in html
    w.close()


def test_without_a_tick_size_a_column_takes_the_decimals_every_value_needs(renderer: RenderScheduler) -> None:
    s: Subject[object] = Subject()
    w = widgets.LiveTable(s, columns=["price"])
    s.on_next(trade(0, 0.15))
    s.on_next(trade(1, 0.14523))
    renderer.flush()
    prices = [c[1] for c in _cells(w.html.value, "buy")]
    assert prices == ["0.14523", "0.15000"]  # aligned to 5 decimals
    w.close()


def test_formats_sort_and_filter(renderer: RenderScheduler) -> None:
    s: Subject[object] = Subject()
    w = widgets.LiveTable(s, rows=10, columns=["price"], formats={"price": ",.1f"}, sort_by="price",
                          ascending=True, where=lambda df: df["price"] > 101)
    for i, p in enumerate((103.0, 100.0, 102.0, 104.0)):
        s.on_next(trade(i, p))
    renderer.flush()
    assert [c[1] for c in _cells(w.html.value, "buy")] == ["102.0", "103.0", "104.0"]
    bad = widgets.LiveTable(w.frame, columns=["nope"])
    renderer.flush()
    assert "nope" in bad.html.value and "not in the frame" in bad.html.value
    for t in (w, bad):
        t.close()


def test_state_frames_show_newest_update_first(renderer: RenderScheduler) -> None:
    src: Subject[dict[str, object]] = Subject()
    orders = frames.open_orders(src)
    w = widgets.LiveTable(orders, columns=["price"])
    src.on_next({"orderId": "old", "orderStatus": "New", "price": "1", "updatedTime": str(T0)})
    src.on_next({"orderId": "new", "orderStatus": "New", "price": "2", "updatedTime": str(T0 + 5)})
    renderer.flush()
    html = w.html.value
    assert html.index(">new<") < html.index(">old<")
    w.close()


def test_reprs_are_short(renderer: RenderScheduler) -> None:
    stream = Stream(lambda o, sch: rx.never().subscribe(o), Provenance.SIMULATED)  # type: ignore[arg-type]
    table = widgets.LiveTable(stream, title="fills")
    assert repr(table) == "<LiveTable SIMULATED 'fills' 0 rows>"
    table.close()
    assert repr(table).endswith("closed>")
    ladder = widgets.OrderBookLadder(stream, levels=3)
    assert repr(ladder).startswith("<OrderBookLadder SIMULATED") and len(repr(ladder)) < 120
    ladder.close()


def test_a_ladder_shows_the_tick_sizes_decimals_aligned(renderer: RenderScheduler) -> None:
    doge = book_view([(0.15, 1000.0), (0.14999, 20.0)], [(0.15001, 5.0), (0.1501, 7.0)], symbol="DOGEUSDT")
    ladder = widgets.OrderBookLadder(rx.of(doge), levels=2, tick_size="0.00001", lot_size="1")
    renderer.flush()
    html = ladder.html.value
    prices = re.findall(r"font-weight:bold\">([\d.,]+)<", html)
    assert prices == ["0.15010", "0.15001", "0.15000", "0.14999"]
    assert ">1,000<" in html and "spread 0.00001" in html
    guessed = widgets.OrderBookLadder(rx.of(doge), levels=2)
    renderer.flush()
    assert re.findall(r"font-weight:bold\">([\d.,]+)<", guessed.html.value) == prices
    assert repr(ladder) == "<OrderBookLadder DOGEUSDT u=5 2 levels>"
    for w in (ladder, guessed):
        w.close()


async def test_the_status_bar_says_closed_when_the_client_closes(renderer: RenderScheduler) -> None:
    from helpers import eventually

    import rxbybit as rb

    bybit = rb.Bybit("sim")
    bar = widgets.StatusBar(bybit.health)
    trades = bybit.trades("BTCUSDT").subscribe(lambda t: None)
    await eventually(lambda: renderer.flush() >= 0 and bar.state == "connected", what="a connected status bar")
    assert "msg/s" in bar.line.value and "SIMULATED" in bar.line.value
    trades.dispose()
    await bybit.close()
    renderer.flush()
    assert bar.state == "closed" and bar.source_completed
    assert "closed" in bar.line.value and "msg/s" not in bar.line.value and "SIMULATED" in bar.line.value
    assert repr(bar).startswith("<StatusBar SIMULATED closed")
    bar.close()


def test_an_instruments_tick_and_lot_set_the_decimals(renderer: RenderScheduler) -> None:
    from decimal import Decimal

    from rxbybit.protocol.instruments import InstrumentInfo

    info = InstrumentInfo("linear", "DOGEUSDT", "Trading", "DOGE", "USDT", "USDT", Decimal("0.00001"),
                          Decimal("1"), Decimal("1"), Decimal("1000000"), Decimal("5"))
    doge = book_view([(0.15, 1000.0)], [(0.1501, 5.0)], symbol="DOGEUSDT")
    ladder = widgets.OrderBookLadder(rx.of(doge), levels=1, instrument=info)
    table = widgets.LiveTable(rx.of(trade(0, 0.15, 12.0)), columns=["price", "size"], instrument=info)
    renderer.flush()
    assert re.findall(r"font-weight:bold\">([\d.,]+)<", ladder.html.value) == ["0.15010", "0.15000"]
    assert _cells(table.html.value, "buy")[0][1:] == ["0.15000", "12"]
    for w in (ladder, table):
        w.close()
