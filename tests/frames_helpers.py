"""Builders for the frames/ops/widgets tests: protocol items made in memory, no network."""

from __future__ import annotations

from rxbybit.protocol import BookUpdate, BookView, OrderBook, Trade

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z


def trade(i: int, price: float = 100.0, size: float = 1.0, *, ts: int | None = None, side: str = "Buy",
          symbol: str = "BTCUSDT") -> Trade:
    """The i-th test trade (1 ms apart unless ts is given)."""
    return Trade(T0 + i if ts is None else ts, symbol, side, price, size, f"id-{i}")


def book_view(bids: list[tuple[float, float]], asks: list[tuple[float, float]], *, u: int = 5,
              ts: int = T0, symbol: str = "BTCUSDT") -> BookView:
    """An immutable book view built through the real OrderBook rules."""
    ob = OrderBook(symbol, depth=50)
    ob.apply(BookUpdate(f"orderbook.50.{symbol}", symbol, 50, True, ts, u, u, bids, asks))
    return ob.view()
