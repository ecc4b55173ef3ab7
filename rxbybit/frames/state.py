"""StateFrame: the latest state per key (open orders, positions, balances) as a live DataFrame.

Private streams push changes, not tables: an order appears, is amended, fills, is cancelled. A
:class:`StateFrame` keeps the newest row per key, drops rows whose state is final, and shows the
result as a small DataFrame that renders itself like the other live frames. ``ops.to_state`` builds
one in a pipe; :func:`open_orders`, :func:`positions` and :func:`balances` are ready-made ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Unpack

import pandas as pd
import reactivex as rx

from ..display import column_formatters, titled_html
from ..protocol.orders import FINAL_STATUSES
from ._base import FrameOptions, LiveBase
from ._schema import column, frame_column
from .schemas import TopicSchema, detect, field_kind, topic_schema

Row = Mapping[str, Any]

FINAL_ORDER_STATES: frozenset[str] = frozenset(FINAL_STATUSES)
"""Order statuses after which an order is no longer open (Bybit's texts)."""


class StateFrame(LiveBase):
    """Newest row per ``key``; ``drop(row)`` removes a key (e.g. a filled order); ``explode(item)``
    turns one pushed item into rows (e.g. a wallet push into one row per coin).

    Values stay exactly as Bybit sent them (strings) in :attr:`rows`, so nothing is rounded on the
    way back to the exchange; ``.df`` types every column by the topic's declared schema
    (:mod:`rxbybit.frames.schemas`): floats for prices, sizes, fees and PnL, UTC datetimes for times,
    ``str`` for ids and texts.
    """

    def __init__(
        self,
        key: str | Sequence[str],
        *,
        drop: Callable[[Row], bool] | None = None,
        explode: Callable[[Row], Iterable[Row]] | None = None,
        columns: Sequence[str] | None = None,
        topic: str | None = None,
        **options: Unpack[FrameOptions],
    ) -> None:
        super().__init__(**options)
        if topic is not None:
            topic_schema(topic)  # a KeyError naming the known topics, now rather than at .df
        self.topic = topic
        """The topic whose declared kinds ``.df`` uses (None: recognised from the rows' fields)."""
        self.key = (key,) if isinstance(key, str) else tuple(key)
        self._drop = drop
        self._explode = explode
        self.columns = tuple(columns) if columns else None
        self.rows: dict[tuple[Any, ...], dict[str, Any]] = {}
        """The current state, keyed by the ``key`` fields' values."""
        self.updates = 0
        self._df: pd.DataFrame | None = None

    def _ingest(self, item: Any) -> None:
        if not isinstance(item, Mapping):
            raise TypeError(f"StateFrame takes mappings (private stream items), got {type(item).__name__}")
        rows = self._explode(item) if self._explode is not None else (item,)
        for row in rows:
            try:
                k = tuple(row[f] for f in self.key)
            except KeyError as exc:
                raise KeyError(f"item has no key field {exc.args[0]!r}: {dict(row)!r:.200}") from None
            if self._drop is not None and self._drop(row):
                self.rows.pop(k, None)
            else:
                self.rows[k] = dict(row)
        self.updates += 1
        self._df = None
        self._changed()

    @property
    def df(self) -> pd.DataFrame:
        """One row per live key, typed by the topic's schema. Cached until the next change."""
        if self._df is not None:
            return self._df
        records = list(self.rows.values())
        df = pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=list(self.key))
        if self.columns is not None:
            df = df[[c for c in self.columns if c in df.columns]]
        if len(df):
            topic = topic_schema(self.topic) if self.topic else detect(records[0])
            for col in df.columns:
                df[col] = self._typed(col, df[col], topic)
        if all(k in df.columns for k in self.key):
            df = df.set_index(list(self.key)).sort_index()
        self._df = df
        return df

    def _typed(self, name: str, values: pd.Series, topic: TopicSchema | None) -> Any:
        kind = field_kind(name, topic)
        if kind is None:
            sample = next((v for v in values if v is not None and v != ""), None)
            if isinstance(sample, list | dict | tuple):
                return values
            # undeclared: numbers (or numeric strings) become floats, never guessed as int
            converted = pd.to_numeric(values.where(values.ne("")), errors="coerce")
            present = values.notna() & values.ne("")
            if bool(present.any()) and bool(converted[present].notna().all()):
                return converted.astype("float64")
            return values
        if kind == "O":
            return values
        arr = column(list(values), kind, name, self._record)
        return frame_column(kind, arr)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        df = self.df
        return f"{self._tagged('StateFrame')} {self.name} ({len(self)} rows)\n{df.to_string(formatters=_fmts(df))}"

    def _repr_html_(self) -> str:
        title = f"{self.name or 'StateFrame'} ({len(self)} rows)"
        df = self.df
        return titled_html("StateFrame", self.label, title, df.to_html(border=0, formatters=_fmts(df)))


def _fmts(df: pd.DataFrame) -> dict[str, Any]:
    return column_formatters((str(c), df[c]) for c in df.columns)


def is_final_order(row: Row) -> bool:
    """True for an order that is no longer open (filled, cancelled, rejected...)."""
    return str(row.get("orderStatus")) in FINAL_ORDER_STATES


def is_flat_position(row: Row) -> bool:
    """True for a position of size zero."""
    try:
        return float(row.get("size") or 0) == 0.0
    except ValueError:
        return False


def wallet_coins(item: Row) -> Iterable[Row]:
    """One row per coin of a wallet push, with the account type."""
    for coin in item.get("coin") or ():
        yield {"accountType": item.get("accountType", ""), **coin}


ORDER_COLUMNS = ("orderId", "orderLinkId", "category", "symbol", "side", "orderType", "price", "qty",
                 "cumExecQty", "leavesQty", "orderStatus", "timeInForce", "updatedTime")
POSITION_COLUMNS = ("category", "symbol", "positionIdx", "side", "size", "entryPrice", "markPrice",
                    "unrealisedPnl", "curRealisedPnl", "leverage", "liqPrice", "updatedTime")
BALANCE_COLUMNS = ("coin", "accountType", "equity", "walletBalance", "locked", "unrealisedPnl", "usdValue")


def _following(frame: StateFrame, source: rx.Observable[Any]) -> StateFrame:
    frame.subscribe_to(source)
    return frame


def open_orders(source: rx.Observable[Any], name: str = "open orders") -> StateFrame:
    """Open orders from an ``orders()`` stream, keyed by ``orderId``."""
    return _following(StateFrame("orderId", drop=is_final_order, columns=ORDER_COLUMNS, topic="order",
                                 name=name), source)


def positions(source: rx.Observable[Any], name: str = "positions") -> StateFrame:
    """Open positions from a ``positions()`` stream, keyed by category, symbol and ``positionIdx``."""
    key = ("category", "symbol", "positionIdx")
    return _following(StateFrame(key, drop=is_flat_position, columns=POSITION_COLUMNS, topic="position",
                                 name=name), source)


def balances(source: rx.Observable[Any], name: str = "balances") -> StateFrame:
    """Coin balances from a ``wallet()`` stream, one row per coin."""
    return _following(StateFrame("coin", explode=wallet_coins, columns=BALANCE_COLUMNS, topic="wallet",
                                 name=name), source)
