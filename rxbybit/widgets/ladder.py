"""OrderBookLadder: asks above, bids below, cumulative depth bars and the spread in between."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ipywidgets
import reactivex as rx
import traitlets

from ..display import RenderScheduler, decimals_of, esc, places_for
from ..frames import BookFrame
from ..protocol import BookView
from ..protocol.instruments import InstrumentInfo
from ._base import LiveWidget

_BID = "rgba(22,163,74,0.25)"
_ASK = "rgba(220,38,38,0.25)"


def _fmt(x: float, places: int | None = None) -> str:
    return f"{x:,.8g}" if places is None else f"{x:,.{places}f}"


_CELL = "padding:0 6px;text-align:right;line-height:1.25"


def _row(price: float, size: float, cum: float, max_cum: float, color: str, side: str, places: int | None = None,
         qty_places: int | None = None) -> str:
    pct = 100.0 * cum / max_cum if max_cum > 0 else 0.0
    bar = f"background:linear-gradient(to left,{color} {pct:.1f}%,transparent {pct:.1f}%)"
    return (
        f'<tr class="rxbybit-{side}" style="{bar}"><td style="{_CELL}">{_fmt(size, qty_places)}</td>'
        f'<td style="{_CELL};font-weight:bold">{_fmt(price, places)}</td>'
        f'<td style="{_CELL};opacity:0.7">{_fmt(cum, qty_places)}</td></tr>'
    )


def ladder_html(view: BookView | None, levels: int, price_places: int | None = None,
                qty_places: int | None = None) -> str:
    """The ladder table for one book view (asks high to low, spread row, bids high to low).

    Prices show ``price_places`` decimals (the tick size's), sizes ``qty_places`` (the lot size's);
    when not given, the fewest decimals that show every value on screen exactly, so columns align."""
    if view is None:
        return "<i>waiting for the book</i>"
    bids = view.bids(levels)
    asks = view.asks(levels)
    cum_b: list[float] = []
    total = 0.0
    for _, s in bids:
        total += s
        cum_b.append(total)
    cum_a: list[float] = []
    total = 0.0
    for _, s in asks:
        total += s
        cum_a.append(total)
    max_cum = max(cum_b[-1] if cum_b else 0.0, cum_a[-1] if cum_a else 0.0)
    places = price_places if price_places is not None else places_for([p for p, _ in bids] + [p for p, _ in asks])
    qty = qty_places if qty_places is not None else places_for([s for _, s in bids] + [s for _, s in asks])
    rows = [_row(p, s, c, max_cum, _ASK, "ask", places, qty)
            for (p, s), c in reversed(list(zip(asks, cum_a, strict=True)))]
    spread = view.spread
    mid = view.mid
    rows.append(
        '<tr class="rxbybit-spread"><td colspan="3" style="text-align:center;font-size:11px">'
        f"spread {_fmt(spread, places) if spread is not None else '-'} &middot; "
        f"mid {_fmt(mid, places + 1) if mid is not None else '-'}"
        "</td></tr>"
    )
    rows.extend(_row(p, s, c, max_cum, _BID, "bid", places, qty) for (p, s), c in zip(bids, cum_b, strict=True))
    return (
        '<table style="font-family:ui-monospace,monospace;font-size:12px;border-collapse:collapse;min-width:260px;'
        'font-variant-numeric:tabular-nums">'
        f'<tr><th style="{_CELL}">size</th><th style="{_CELL}">price</th><th style="{_CELL}">total</th></tr>'
        + "".join(rows) + "</table>"
    )


class OrderBookLadder(LiveWidget):
    """A live price ladder of the top ``levels`` per side of an order book stream.

    Example::

        rb.widgets.OrderBookLadder(bybit.orderbook("BTCUSDT", depth=50), levels=15)

    Every book update is taken (only the newest view is kept); the ladder re-renders at
    ``render_fps`` at most. ``best_bid``, ``best_ask``, ``spread`` and ``u`` hold what is shown.
    """

    best_bid = traitlets.Float(None, allow_none=True, help="best bid price shown")
    best_ask = traitlets.Float(None, allow_none=True, help="best ask price shown")
    spread = traitlets.Float(None, allow_none=True, help="spread shown")
    u = traitlets.Int(0, help="update id of the book shown")

    def __init__(
        self,
        book: BookFrame | rx.Observable[Any],
        *,
        levels: int = 15,
        simulated: bool | None = None,
        title: str = "",
        tick_size: float | str | Decimal | None = None,
        lot_size: float | str | Decimal | None = None,
        instrument: InstrumentInfo | None = None,
        render_fps: float = 4.0,
        scheduler: RenderScheduler | None = None,
    ) -> None:
        if levels < 1:
            raise ValueError(f"levels must be at least 1, got {levels}")
        self.html = ipywidgets.HTML()
        """The one HTML child: header and table are sent together, one message per render."""
        super().__init__([self.html], render_fps=render_fps, scheduler=scheduler)
        self.levels = levels
        self.title = title
        if instrument is not None:  # the exchange's rules: bybit.instruments(category)[symbol]
            tick_size = instrument.tick_size if tick_size is None else tick_size
            lot_size = instrument.qty_step if lot_size is None else lot_size
        self.price_places = decimals_of(tick_size)
        """Price decimals (from ``tick_size``; None: the fewest that show the prices on screen exactly)."""
        self.qty_places = decimals_of(lot_size)
        self.view: BookView | None = None
        self.updates = 0
        self._label_from(book, simulated)
        if isinstance(book, BookFrame):
            self.view = book.view
            self._own(book.add_listener(self._from_frame(book)))
        else:
            self._follow(book, self._take)
        self._render()

    def _from_frame(self, frame: BookFrame) -> Any:
        def changed() -> None:
            self.view = frame.view
            self.updates += 1
            self._binding.changed()

        return changed

    def _describe(self) -> str:
        v = self.view
        return f"{v.symbol} u={v.u} {self.levels} levels" if v else f"{self.levels} levels, no book yet"

    def _take(self, item: Any) -> None:
        if not isinstance(item, BookView):
            take = getattr(item, "view", None)
            if not callable(take):
                raise TypeError(f"OrderBookLadder takes order book views, got a {type(item).__name__}")
            item = take()
        self.view = item
        self.updates += 1

    def _render(self) -> None:
        v = self.view
        name = self.title or (v.symbol if v else "")
        header = f'<div style="font-size:12px">{self._badge()} <b>{esc(name)}</b></div>'
        self.html.value = header + ladder_html(v, self.levels, self.price_places, self.qty_places)
        bb = v.best_bid if v else None
        ba = v.best_ask if v else None
        self.best_bid = bb[0] if bb else None
        self.best_ask = ba[0] if ba else None
        self.spread = v.spread if v else None
        self.u = v.u if v else 0
