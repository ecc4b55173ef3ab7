"""Ticker state: linear/inverse deltas merge into the last snapshot; spot/option snapshots replace."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

from ._shared import ALONE, getrefcount
from .events import TickerUpdate

TickerValue = float | str | None


class Ticker(Mapping[str, TickerValue]):
    """An immutable merged ticker: a read-only mapping of Bybit's field names to values.

    ``complete`` is False when deltas arrived before any snapshot (fields may be missing).
    """

    __slots__ = ("_fields", "complete", "cs", "symbol", "ts")

    def __init__(
        self, symbol: str, ts: int, cs: int, fields: Mapping[str, TickerValue], complete: bool = True
    ) -> None:
        self.symbol = symbol
        self.ts = ts
        self.cs = cs
        self._fields = MappingProxyType(dict(fields))
        self.complete = complete

    @classmethod
    def _sharing(
        cls, symbol: str, ts: int, cs: int, fields: dict[str, TickerValue], complete: bool
    ) -> Ticker:
        """A ticker over ``fields`` without copying them: the caller must copy before changing them
        while a ticker holds them (:class:`TickerState` does, by reference count)."""
        t = cls.__new__(cls)
        t.symbol = symbol
        t.ts = ts
        t.cs = cs
        t._fields = MappingProxyType(fields)
        t.complete = complete
        return t

    def __getitem__(self, key: str) -> TickerValue:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def _float(self, key: str) -> float | None:
        v = self._fields.get(key)
        return v if isinstance(v, float) else None

    @property
    def last_price(self) -> float | None:
        """Last traded price."""
        return self._float("lastPrice")

    @property
    def bid_price(self) -> float | None:
        """Best bid (``bid1Price``, or ``bidPrice`` on options)."""
        return self._float("bid1Price") if "bid1Price" in self._fields else self._float("bidPrice")

    @property
    def ask_price(self) -> float | None:
        """Best ask (``ask1Price``, or ``askPrice`` on options)."""
        return self._float("ask1Price") if "ask1Price" in self._fields else self._float("askPrice")

    @property
    def mark_price(self) -> float | None:
        """Mark price (derivatives)."""
        return self._float("markPrice")

    def __repr__(self) -> str:
        return f"Ticker({self.symbol} ts={self.ts} last={self.last_price} fields={len(self)})"


class TickerState:
    """Keeps one symbol's ticker: apply each :class:`TickerUpdate`, get the merged :class:`Ticker`."""

    __slots__ = ("_complete", "_fields", "cs", "ts")

    def __init__(self) -> None:
        self._fields: dict[str, TickerValue] = {}
        self._complete = False
        self.ts = 0
        self.cs = 0

    def apply(self, update: TickerUpdate) -> Ticker:
        """Merge (delta) or replace (snapshot) and return the new immutable state."""
        if update.snapshot:
            self._fields = dict(update.fields)
            self._complete = True
        else:
            if getrefcount(self._fields) > ALONE:  # a Ticker handed out earlier still holds them
                self._fields = self._fields.copy()
            self._fields.update(update.fields)
        self.ts = update.ts
        self.cs = update.cs
        symbol = str(self._fields.get("symbol") or update.symbol)
        return Ticker._sharing(symbol, update.ts, update.cs, self._fields, self._complete)
