"""BookFrame: the top levels of a live order book as a small DataFrame that renders itself."""

from __future__ import annotations

from typing import Any, Unpack

import numpy as np
import pandas as pd

from ..display import tidy, titled_html
from ..protocol import BookView
from ._base import FrameOptions, LiveBase

BOOK_COLUMNS = ["bid_size", "bid_price", "ask_price", "ask_size"]


class BookFrame(LiveBase):
    """The newest book state, top ``levels`` per side.

    Example::

        top = book.pipe(ops.to_book(levels=10))
        top.df          # index: level 0..9; columns bid_size, bid_price, ask_price, ask_size
        top.mid, top.spread

    Items are immutable :class:`~rxbybit.protocol.BookView` objects (a mutable ``OrderBook`` is
    accepted too; its ``view()`` is taken). Only the newest view is kept; ``.df`` is built on demand
    and cached until the next update. ``df.attrs`` carries ``symbol``, ``u``, ``seq`` and ``time``.
    """

    def __init__(self, levels: int = 10, **options: Unpack[FrameOptions]) -> None:
        if levels < 1:
            raise ValueError(f"levels must be at least 1, got {levels}")
        super().__init__(**options)
        self.levels = levels
        self.view: BookView | None = None
        """The newest book view (None before the first update)."""
        self.updates = 0
        self._df: pd.DataFrame | None = None

    def update(self, item: Any) -> None:
        """Take a new book state. Raises ``TypeError`` for anything that is not a book."""
        book = item
        if not isinstance(book, BookView):
            take = getattr(book, "view", None)
            if not callable(take):
                raise TypeError(f"BookFrame takes order book views, got a {type(book).__name__}: {book!r:.120}")
            book = take()
            if not isinstance(book, BookView):
                raise TypeError(f"{type(book).__name__}.view() did not return a BookView")
        self.view = book
        self.updates += 1
        self._df = None
        self._changed()

    _ingest = update

    @property
    def best_bid(self) -> tuple[float, float] | None:
        """``(price, size)`` of the best bid."""
        return self.view.best_bid if self.view else None

    @property
    def best_ask(self) -> tuple[float, float] | None:
        """``(price, size)`` of the best ask."""
        return self.view.best_ask if self.view else None

    @property
    def mid(self) -> float | None:
        """Mid price (None until both sides exist)."""
        return tidy(self.view.mid) if self.view else None

    @property
    def spread(self) -> float | None:
        """Best ask minus best bid."""
        return tidy(self.view.spread) if self.view else None

    @property
    def time(self) -> pd.Timestamp | None:
        """Exchange time of the newest view (UTC)."""
        return pd.Timestamp(self.view.ts, unit="ms", tz="UTC") if self.view else None

    def __len__(self) -> int:
        """Levels held (the configured ``levels``)."""
        return self.levels

    @property
    def df(self) -> pd.DataFrame:
        """Top levels side by side: row ``i`` holds the ``i``-th best bid and ask (NaN past the end)."""
        if self._df is not None:
            return self._df
        n = self.levels
        data = np.full((n, 4), np.nan)
        if self.view is not None:
            bids, asks = self.view.arrays(n)
            data[: len(bids), 0] = bids[:, 1]
            data[: len(bids), 1] = bids[:, 0]
            data[: len(asks), 2] = asks[:, 0]
            data[: len(asks), 3] = asks[:, 1]
        df = pd.DataFrame(data, columns=BOOK_COLUMNS, index=pd.RangeIndex(n, name="level"))
        if self.view is not None:
            df.attrs.update(symbol=self.view.symbol, u=self.view.u, seq=self.view.seq, time=self.time)
        self._df = df
        return df

    def _header(self) -> str:
        v = self.view
        if v is None:
            return f"{self.name} (no book yet)".strip()
        name = self.name or v.symbol
        mid = f"{v.mid:.8g}" if v.mid is not None else "-"
        spread = f"{v.spread:.8g}" if v.spread is not None else "-"
        when = self.time.isoformat() if self.time is not None else "-"
        return f"{name} u={v.u} mid={mid} spread={spread} at {when}"

    def __repr__(self) -> str:
        return f"{self._tagged('BookFrame')}: {self._header()}\n{self.df.to_string()}"

    def _repr_html_(self) -> str:
        return titled_html("BookFrame", self.label, f"BookFrame {self._header()}", self.df.to_html(border=0))
