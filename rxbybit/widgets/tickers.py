"""TickerBoard: one row per symbol with the newest merged ticker fields."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import ipywidgets
import reactivex as rx
import traitlets

from ..client.stream import provenance_of
from ..display import RenderScheduler, esc
from ._base import LiveWidget

DEFAULT_FIELDS = ("lastPrice", "bid1Price", "ask1Price", "markPrice", "price24hPcnt", "volume24h", "turnover24h")


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.8g}"
    return esc("" if value is None else value)


class TickerBoard(LiveWidget):
    """Many symbols' tickers in one table; a price that rose since the last render shows green, fell red.

    Example::

        rb.widgets.TickerBoard([bybit.ticker(s) for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")])
        rb.widgets.TickerBoard(merged_tickers, fields=("lastPrice", "fundingRate"))

    Items are :class:`~rxbybit.protocol.Ticker` (or any mapping with ``symbol``); fields missing
    for a symbol (spot has no ``markPrice``) show blank.
    """

    symbols = traitlets.List(traitlets.Unicode(), help="symbols shown, in first-seen order")
    last_prices = traitlets.Dict(help="symbol -> last price shown")

    def __init__(
        self,
        tickers: rx.Observable[Any] | Iterable[rx.Observable[Any]],
        *,
        fields: Sequence[str] = DEFAULT_FIELDS,
        simulated: bool | None = None,
        title: str = "",
        render_fps: float = 4.0,
        scheduler: RenderScheduler | None = None,
    ) -> None:
        self.html = ipywidgets.HTML()
        """The one HTML child: header and table are sent together, one message per render."""
        super().__init__([self.html], render_fps=render_fps, scheduler=scheduler)
        self.fields = tuple(fields)
        self.title = title
        self._latest: dict[str, Mapping[str, Any]] = {}
        self._shown_last: dict[str, float] = {}
        sources = [tickers] if isinstance(tickers, rx.Observable) else list(tickers)
        labelled = [p for p in map(provenance_of, sources) if p.simulated]
        self._label_from(labelled[0] if labelled else None, simulated)
        for s in sources:
            self._follow(s, self._take)
        self._render()

    def _take(self, item: Any) -> None:
        if not isinstance(item, Mapping):
            raise TypeError(f"TickerBoard takes tickers (mappings of Bybit fields), got a {type(item).__name__}")
        symbol = getattr(item, "symbol", None) or item.get("symbol")
        if not symbol:
            raise ValueError(f"ticker without a symbol: {dict(item)!r:.120}")
        self._latest[str(symbol)] = item

    def _describe(self) -> str:
        return f"{len(self._latest)} symbols"

    def _render(self) -> None:
        header = f'<div style="font-size:12px">{self._badge()} <b>{esc(self.title)}</b></div>'
        if not self._latest:
            self.html.value = header + "<i>waiting for tickers</i>"
            return
        head = "".join(f"<th>{esc(f)}</th>" for f in self.fields)
        rows = []
        last_prices: dict[str, float] = {}
        for sym, t in self._latest.items():
            last = t.get("lastPrice")
            color = ""
            if isinstance(last, float):
                before = self._shown_last.get(sym)
                if before is not None and last != before:
                    color = "color:#16a34a" if last > before else "color:#dc2626"
                last_prices[sym] = last
            cells = "".join(
                f'<td style="text-align:right;{color if f == "lastPrice" else ""}">{_cell(t.get(f))}</td>'
                for f in self.fields
            )
            rows.append(f"<tr><td><b>{esc(sym)}</b></td>{cells}</tr>")
        self.html.value = header + (
            '<table style="font-family:monospace;font-size:12px"><tr><th>symbol</th>'
            f"{head}</tr>{''.join(rows)}</table>"
        )
        self._shown_last = last_prices
        self.symbols = list(self._latest)
        self.last_prices = last_prices
