"""LiveTable: any live frame (or row stream) as a trading-screen table that refreshes itself.

Newest rows first, chosen columns, numbers right-aligned with one number of decimals per column
(from the instrument's tick and lot sizes when given, else the fewest that show every value
exactly), buy rows green and sell rows red, ids that never wrap, and a scrolling body for large
tables. Rendering is one HTML string per refresh: ``bench/bench_tables.py`` measured it against
ipydatagrid at 10,000 messages a second (see bench/README.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import ipywidgets
import numpy as np
import pandas as pd
import reactivex as rx
import traitlets

from ..display import RenderScheduler, decimals_of, esc, fmt_number, places_for
from ..frames import LiveBase, LiveFrame
from ..ops import to_frame
from ..protocol.instruments import InstrumentInfo
from ._base import LiveWidget

Format = int | str | Callable[[Any], str]
"""A column format: decimal places, a format spec (``",.2f"``), or a function of the value."""

PRICE_WORDS = ("price", "Price", "mid", "vwap", "open", "high", "low", "close", "value", "Pnl", "Fee", "fee")
QTY_WORDS = ("size", "Size", "qty", "Qty", "volume", "Volume")
ID_WORDS = ("Id", "_id", "orderLinkId")

_SIDE_COLORS = {"buy": "#15803d", "sell": "#b91c1c"}
_ROW_TINT = {"buy": "rgba(22,163,74,0.07)", "sell": "rgba(220,38,38,0.07)"}
_STYLE = (
    "<style>.rxbybit-table{border-collapse:collapse;font-family:ui-monospace,monospace;font-size:12px}"
    ".rxbybit-table th{position:sticky;top:0;background:var(--jp-layout-color1,#fff);text-align:right;"
    "padding:2px 8px;border-bottom:1px solid #d1d5db;white-space:nowrap}"
    ".rxbybit-table td{padding:1px 8px;text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}"
    ".rxbybit-table td.t{text-align:left}.rxbybit-table td.id{max-width:11em;overflow:hidden;"
    "text-overflow:ellipsis;text-align:left}</style>"
)


def _is(name: str, words: Sequence[str]) -> bool:
    return any(w in name for w in words)


def _time_text(ts: Any) -> str:
    if isinstance(ts, pd.Timestamp):
        return "" if pd.isna(ts) else ts.strftime("%H:%M:%S.%f")[:-3]
    return esc(ts)


class LiveTable(LiveWidget):
    """The newest rows of any live frame or row stream, formatted like a trading screen.

    Example::

        rb.widgets.LiveTable(trades, rows=20, tick_size="0.1", lot_size="0.001")   # makes a LiveFrame
        rb.widgets.LiveTable(rb.frames.open_orders(private.orders()),
                             columns=["side", "price", "qty", "orderStatus"])
        rb.widgets.LiveTable(fills, formats={"execFee": 6}, sort_by="execPrice")

    Args:
        source: a :class:`~rxbybit.frames.LiveFrame`, :class:`~rxbybit.frames.StateFrame`,
            :class:`~rxbybit.frames.BookFrame` (any live frame), or a stream of rows (a LiveFrame
            of ``max_rows`` is made and owned).
        rows: how many rows are shown (newest first; the body scrolls past ``height``).
        columns: which columns, in order (default: all).
        formats: per column: decimal places, a format spec or a function.
        tick_size, lot_size: the instrument's steps: price-like columns get the tick's decimals,
            size-like ones the lot's (default: the fewest decimals that show every value exactly).
        instrument: ``(await bybit.instruments(category))[symbol]``: its tick and lot sizes.
        sort_by, ascending: order rows by a column instead of newest first.
        where: keep only rows for which ``where(df)`` (a boolean Series) is true.
    """

    row_count = traitlets.Int(0, help="rows held by the frame at the last render")

    def __init__(
        self,
        source: LiveBase | rx.Observable[Any],
        *,
        rows: int = 15,
        max_rows: int = 10_000,
        columns: Sequence[str] | None = None,
        formats: Mapping[str, Format] | None = None,
        tick_size: float | str | Decimal | None = None,
        lot_size: float | str | Decimal | None = None,
        instrument: InstrumentInfo | None = None,
        sort_by: str | None = None,
        ascending: bool = False,
        where: Callable[[pd.DataFrame], Any] | None = None,
        height: str = "360px",
        title: str = "",
        simulated: bool | None = None,
        render_fps: float = 4.0,
        scheduler: RenderScheduler | None = None,
    ) -> None:
        if rows < 1:
            raise ValueError(f"rows must be at least 1, got {rows}")
        self.html = ipywidgets.HTML()
        """The one HTML child: header and table are sent together, one message per render."""
        super().__init__([self.html], render_fps=render_fps, scheduler=scheduler)
        self.rows = rows
        self.title = title
        self.columns = tuple(columns) if columns is not None else None
        self.formats: dict[str, Format] = dict(formats or {})
        if instrument is not None:  # the exchange's rules: bybit.instruments(category)[symbol]
            tick_size = instrument.tick_size if tick_size is None else tick_size
            lot_size = instrument.qty_step if lot_size is None else lot_size
        self.price_places = decimals_of(tick_size)
        self.qty_places = decimals_of(lot_size)
        self.sort_by = sort_by
        self.ascending = ascending
        self.where = where
        self.height = height
        if isinstance(source, LiveBase):
            self.frame: LiveBase = source
        elif isinstance(source, rx.Observable):
            self.frame = to_frame(max_rows, simulated=simulated, name=title)(source)
            self._binding.on_close(self.frame.close)
        else:
            raise TypeError(f"LiveTable shows a live frame or a stream of rows, got a {type(source).__name__}")
        self._label_from(self.frame, simulated)
        self._own(self.frame.add_listener(self._binding.changed))
        self._render()

    # ----------------------------------------------------------------------------- data

    def data(self) -> pd.DataFrame:
        """The rows shown, in the order shown (newest first unless ``sort_by``)."""
        return self._shown(self._rows())

    def _shown(self, df: pd.DataFrame) -> pd.DataFrame:
        if self.columns is None:
            return df
        missing = [c for c in self.columns if c not in df.columns]
        if missing:
            raise KeyError(f"columns {missing} are not in the frame (it has {list(df.columns)})")
        return df[list(self.columns)]

    def _rows(self) -> pd.DataFrame:
        f = self.frame
        if isinstance(f, LiveFrame):
            df = f.tail(self.rows if self.where is None and self.sort_by is None else f.max_rows)
            df = df.iloc[::-1]
        else:
            df = f.df
            if "updatedTime" in df.columns and self.sort_by is None:
                df = df.sort_values("updatedTime", ascending=False, kind="stable")
        if self.where is not None:
            df = df[self.where(df)]
        if self.sort_by is not None:
            df = df.sort_values(self.sort_by, ascending=self.ascending, kind="stable")
        return df.head(self.rows)

    def _formatter(self, name: str, values: pd.Series) -> Callable[[Any], str]:
        fmt = self.formats.get(name)
        if callable(fmt):
            return fmt
        if isinstance(fmt, str):
            spec = fmt
            return lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)
        if isinstance(fmt, int):
            places: int | None = fmt
        elif values.dtype.kind == "f":
            if _is(name, QTY_WORDS):
                places = self.qty_places
            elif _is(name, PRICE_WORDS):
                places = self.price_places
            else:
                places = None
            if places is None:
                places = places_for(values.to_numpy(dtype=np.float64))
        else:
            places = None
        if isinstance(values.dtype, pd.DatetimeTZDtype) or values.dtype.kind == "M":
            return _time_text
        return lambda v: esc(fmt_number(v, places))

    # ----------------------------------------------------------------------------- render

    def table_html(self) -> str:
        """The table alone (what each render sends, after the header)."""
        full = self._rows()
        df = self._shown(full)
        if not len(df):
            return "<i>waiting for data</i>"
        cols = list(df.columns)
        fmts = [self._formatter(c, df[c]) for c in cols]
        index_is_time = isinstance(df.index, pd.DatetimeIndex)
        index_name = df.index.name if df.index.name is not None else ""
        if isinstance(df.index, pd.MultiIndex):
            index_name = "/".join(str(n) for n in df.index.names)
        head = f"<th>{esc(index_name)}</th>" + "".join(f"<th>{esc(c)}</th>" for c in cols)
        sides = full["side"].astype(str).str.lower().to_numpy() if "side" in full.columns else None
        id_cols = {i for i, c in enumerate(cols) if _is(str(c), ID_WORDS)}
        text_cols = {i for i, c in enumerate(cols) if df[c].dtype.kind not in "fiumMb"} - id_cols
        side_col = cols.index("side") if "side" in cols else -1
        body: list[str] = []
        columns_values = [df[c].tolist() for c in cols]
        for r, key in enumerate(df.index):
            side = sides[r] if sides is not None else ""
            tint = _ROW_TINT.get(side)
            style = f' style="background:{tint}"' if tint else ""
            label = "/".join(map(str, key)) if isinstance(key, tuple) else key
            first = _time_text(key) if index_is_time else esc(label)
            cells = [f'<td class="t">{first}</td>']
            for i, fmt in enumerate(fmts):
                text = fmt(columns_values[i][r])
                if i == side_col and side in _SIDE_COLORS:
                    cells.append(f'<td class="t" style="color:{_SIDE_COLORS[side]};font-weight:600">{text}</td>')
                elif i in id_cols:
                    cells.append(f'<td class="id" title="{text}">{text}</td>')
                elif i in text_cols:
                    cells.append(f'<td class="t">{text}</td>')
                else:
                    cells.append(f"<td>{text}</td>")
            body.append(f'<tr class="rxbybit-row rxbybit-{side or "row"}"{style}>{"".join(cells)}</tr>')
        return (
            f'{_STYLE}<div style="max-height:{esc(self.height)};overflow:auto">'
            f'<table class="rxbybit-table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
        )

    def _render(self) -> None:
        f = self.frame
        n = len(f)
        problem = " (stream failed)" if f.error else (" (completed)" if f.completed else "")
        header = (
            f'<div style="font-size:12px">{self._badge()} <b>{esc(self.title or f.name)}</b> '
            f"{n} rows{esc(problem)}</div>"
        )
        try:
            table = self.table_html()
        except Exception as exc:  # a bad column choice shows as a message, the stream goes on
            table = f'<i style="color:#b91c1c">{esc(exc)}</i>'
        self.html.value = header + table
        self.row_count = n

    def _describe(self) -> str:
        name = self.title or self.frame.name
        return f"{name!r} {len(self.frame)} rows" if name else f"{len(self.frame)} rows"
