"""Widgets without a frontend: feed Subjects, render through the scheduler, assert on traits."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from frames_helpers import T0, book_view, trade
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from rxbybit import ops, widgets
from rxbybit.client.health import Health
from rxbybit.client.stream import Provenance, Stream
from rxbybit.display import RenderScheduler, set_cell_provider
from rxbybit.frames import BookFrame, LiveFrame
from rxbybit.protocol import Candle, Ticker


def health(**kw: object) -> Health:
    base: dict[str, object] = dict(network="sim", simulated=True, state="connected", connections={},
                                   msgs_per_s=1234.5, last_message_age_s=0.2, reconnects=1, resyncs=2)
    base.update(kw)
    return Health(**base)  # type: ignore[arg-type]


def ticker(symbol: str, last: float) -> Ticker:
    return Ticker(symbol, T0, 1, MappingProxyType({"symbol": symbol, "lastPrice": last, "bid1Price": last - 1}))


def test_ladder_shows_the_newest_book_only_after_a_render(renderer: RenderScheduler) -> None:
    s: Subject[object] = Subject()
    w = widgets.OrderBookLadder(s, levels=2, simulated=True)
    for u in range(1000, 1050):  # ingest many, render once
        s.on_next(book_view([(99.0 + (u - 1000) * 0.01, 1.0), (98.0, 2.0)], [(101.0, 3.0)], u=u))
    assert w.u == 0 and w.updates == 50
    assert renderer.flush() == 1
    assert w.u == 1049 and w.best_bid == pytest.approx(99.49) and w.best_ask == 101.0
    assert w.spread == pytest.approx(101.0 - 99.49)
    html = w.html.value
    assert html.count('class="rxbybit-bid"') == 2 and html.count('class="rxbybit-ask"') == 1
    assert "100.0%" in html  # the deeper side's last cumulative level fills its bar
    assert "SIMULATED" in w.html.value
    w.close()
    assert s.observers == [] and w.closed


def test_ladder_from_a_book_frame_and_bad_items(renderer: RenderScheduler) -> None:
    s: Subject[object] = Subject()
    frame = s.pipe(ops.to_book(levels=5))
    w = widgets.OrderBookLadder(frame, levels=3)
    s.on_next(book_view([(10.0, 1.0)], [(11.0, 1.0)], u=1000))
    renderer.flush()
    assert w.best_bid == 10.0 and "SIMULATED" not in w.html.value
    s2: Subject[object] = Subject()
    w2 = widgets.OrderBookLadder(s2)
    s2.on_next("junk")
    assert "junk" not in w2.html.value and "got a str" in w2.errors[-1]
    assert len(s2.observers) == 1  # still subscribed
    with pytest.raises(ValueError):
        widgets.OrderBookLadder(s2, levels=0)
    w.close()
    assert isinstance(frame, BookFrame) and len(s.observers) == 1  # the frame is the user's, it stays


def test_live_table_shows_newest_rows_first_and_owns_the_frame_it_made(renderer: RenderScheduler) -> None:
    s: Subject[object] = Subject()
    w = widgets.LiveTable(s, rows=3, title="tape")
    for i in range(10):
        s.on_next(trade(i, 100.5 + i))
    renderer.flush()
    assert w.row_count == 10
    html = w.html.value
    assert html.index("109.5") < html.index("108.5") and "106.5" not in html
    w.close()
    assert s.observers == [] and w.frame.closed


def test_live_table_of_an_existing_frame_leaves_the_frame_running(renderer: RenderScheduler) -> None:
    s: Subject[object] = Subject()
    f = s.pipe(ops.to_frame())
    w = widgets.LiveTable(f)
    s.on_next(trade(0))
    renderer.flush()
    assert w.row_count == 1
    w.close()
    s.on_next(trade(1))
    assert len(f) == 2 and not f.closed


def test_ticker_board_many_symbols_and_direction_colours(renderer: RenderScheduler) -> None:
    btc: Subject[object] = Subject()
    eth: Subject[object] = Subject()
    w = widgets.TickerBoard([btc, eth], fields=("lastPrice", "bid1Price", "markPrice"))
    btc.on_next(ticker("BTCUSDT", 100.0))
    eth.on_next(ticker("ETHUSDT", 10.0))
    renderer.flush()
    assert w.symbols == ["BTCUSDT", "ETHUSDT"] and w.last_prices == {"BTCUSDT": 100.0, "ETHUSDT": 10.0}
    btc.on_next(ticker("BTCUSDT", 99.0))
    btc.on_next(ticker("BTCUSDT", 101.0))  # newest wins: up versus what was shown
    renderer.flush()
    assert w.last_prices["BTCUSDT"] == 101.0 and "#16a34a" in w.html.value
    btc.on_next(42)
    assert "got a int" in w.errors[-1]
    w.close()
    assert btc.observers == [] and eth.observers == []


def test_status_bar_reports_health_and_the_simulated_label(renderer: RenderScheduler) -> None:
    s: Subject[Health] = Subject()
    w = widgets.StatusBar(s)
    s.on_next(health(state="connecting"))
    s.on_next(health(last_error="pong timeout"))
    renderer.flush()
    assert (w.state, w.simulated, w.reconnects, w.resyncs) == ("connected", True, 1, 2)
    assert w.msgs_per_s == 1234.5 and w.last_message_age_s == 0.2 and w.last_error == "pong timeout"
    assert "SIMULATED" in w.line.value and "1,234.5 msg/s" in w.line.value
    s.on_next(health(simulated=False, network="mainnet", last_error=None))
    renderer.flush()
    assert not w.simulated and "SIMULATED" not in w.line.value
    w.close()
    assert s.observers == []


def test_candles_chart_updates_the_open_candle_in_place(renderer: RenderScheduler) -> None:
    s: Subject[object] = Subject()
    w = widgets.Candles(s, max_candles=2)
    for start, close in [(0, 1.0), (0, 2.0), (60_000, 3.0), (120_000, 4.0), (120_000, 5.0)]:
        s.on_next(Candle(start, start + 59_999, "1", 1.0, 6.0, 0.5, close, 1.0, 1.0, False, start))
    renderer.flush()
    assert w.candles == 2 and w.last_close == 5.0
    assert w.mark.y.shape == (2, 4) and list(w.mark.y[:, 3]) == [3.0, 5.0]
    w.close()
    assert s.observers == []


def test_candles_from_trades_with_freq(renderer: RenderScheduler) -> None:
    s: Subject[object] = Subject()
    w = widgets.Candles(s, freq="1min", simulated=True)
    start = T0 - T0 % 60_000
    for i, p in enumerate([5.0, 7.0, 4.0]):
        s.on_next(trade(i, p, ts=start + i))
    s.on_next(trade(9, 6.0, ts=start + 60_000))
    renderer.flush()
    assert w.candles == 2 and list(w.mark.y[0]) == [5.0, 7.0, 4.0, 4.0]
    assert "SIMULATED" in w.header.value
    w.close()


def test_widgets_respect_the_global_cap_under_a_flood() -> None:
    ts = TestScheduler()
    sched = RenderScheduler(10, scheduler=ts)
    src: Subject[object] = Subject()
    ladders = [widgets.OrderBookLadder(src, levels=3, render_fps=8, scheduler=sched) for _ in range(4)]
    views = [book_view([(99.0, 1.0)], [(101.0, 1.0)], u=1000 + i) for i in range(100)]
    for i in range(3000):  # 3000 msgs over 3 virtual seconds
        ts.schedule_absolute(i * 0.001, lambda *_a, i=i: src.on_next(views[i % 100]))
    start = [w.renders for w in ladders]
    ts.start()
    done = sum(w.renders - s0 for w, s0 in zip(ladders, start, strict=True))
    assert 0 < done <= 10 * 3 + sched.burst + len(ladders)
    assert all(w.u == 1000 + 2999 % 100 for w in ladders)  # each shows the newest book
    for w in ladders:
        w.close()


def test_rerunning_a_cell_closes_its_old_widget(renderer: RenderScheduler) -> None:
    cell = ["c9", 1]
    set_cell_provider(lambda: (str(cell[0]), int(cell[1])))
    s: Subject[object] = Subject()
    old = widgets.LiveTable(s)
    cell[1] = 2
    new = widgets.LiveTable(s)
    assert old.closed and not new.closed
    assert len(s.observers) == 1


def test_refresh_renders_immediately_and_frames_keep_working_after_close(renderer: RenderScheduler) -> None:
    f = LiveFrame(5)
    w = widgets.LiveTable(f)
    f.append(trade(0))
    w.refresh()
    assert w.row_count == 1
    w.close()
    w.refresh()  # closed: nothing happens, nothing raises
    assert w.row_count == 1


def test_ladder_prices_line_up_with_the_same_decimals() -> None:
    from rxbybit.protocol import BookUpdate, OrderBook
    from rxbybit.widgets.ladder import ladder_html

    book = OrderBook("BTCUSDT", 50)
    book.apply(BookUpdate("orderbook.50.BTCUSDT", "BTCUSDT", 50, True, 1, 5, 1,
                          [(67250.0, 1.0), (67249.5, 2.0)], [(67250.5, 1.0), (67251.0, 3.0)]))
    html = ladder_html(book.view(), 5)
    assert "67,250.0<" in html and "67,251.0<" in html and "67,249.5<" in html


def test_widgets_take_the_label_from_typed_streams_and_frames(renderer: RenderScheduler) -> None:
    books: Subject[object] = Subject()
    ladder = widgets.OrderBookLadder(Stream.wrap(books, Provenance.REPLAY))
    trades: Subject[object] = Subject()
    sim_trades = Stream.wrap(trades, Provenance.SIMULATED)
    table = widgets.LiveTable(sim_trades)
    chart = widgets.Candles(sim_trades, freq="1min")
    board = widgets.TickerBoard([Stream.wrap(Subject(), Provenance.LIVE), Stream.wrap(Subject(), Provenance.SIMULATED)])
    assert (ladder.provenance, table.provenance, chart.provenance, board.provenance) == (
        Provenance.REPLAY, Provenance.SIMULATED, Provenance.SIMULATED, Provenance.SIMULATED)
    assert ">REPLAY</span>" in ladder.html.value and "SIMULATED" not in ladder.html.value
    assert ">SIMULATED</span>" in table.html.value and ">SIMULATED</span>" in chart.header.value
    assert table.frame.provenance is Provenance.SIMULATED  # the frame the table made is labelled too
    live = widgets.LiveTable(Subject())
    assert not live.simulated and "SIMULATED" not in live.html.value
    forced = widgets.LiveTable(Stream.wrap(Subject(), Provenance.SIMULATED), simulated=False)
    assert forced.provenance is Provenance.LIVE
    for w in (ladder, table, chart, board, live, forced):
        w.close()


def test_a_widget_of_a_frame_follows_the_frame_label(renderer: RenderScheduler) -> None:
    frame = LiveFrame(5)
    w = widgets.LiveTable(frame)
    assert not w.simulated
    frame.subscribe_to(Stream.wrap(Subject(), Provenance.REPLAY))  # subscribed after the widget was made
    w.refresh()
    assert w.provenance is Provenance.REPLAY and ">REPLAY</span>" in w.html.value
    w.close()
    frame.close()
