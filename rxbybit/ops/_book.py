"""Book metrics: mid, spread and imbalance from order books, tickers or best-bid/ask items."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reactivex as rx

from ..client.stream import Stream
from ._point import Point
from ._stateful import stateful


def _bid_ask(item: Any) -> tuple[float | None, float | None]:
    best_bid = getattr(item, "best_bid", None)
    best_ask = getattr(item, "best_ask", None)
    if best_bid is not None or best_ask is not None or hasattr(item, "bids"):
        return (best_bid[0] if best_bid else None, best_ask[0] if best_ask else None)
    if hasattr(item, "bid_price") and hasattr(item, "ask_price"):
        return item.bid_price, item.ask_price
    raise TypeError(
        f"expected an order book, ticker or book ticker (something with bids/asks or bid_price/ask_price), "
        f"got a {type(item).__name__}: {item!r:.120}"
    )


def _stamp(item: Any) -> tuple[int, str]:
    return int(getattr(item, "ts", 0)), str(getattr(item, "symbol", ""))


def _from_quotes(value: Callable[[float, float], float]) -> Callable[[rx.Observable[Any]], Stream[Point]]:
    """An operator emitting ``Point(ts, value(bid, ask), symbol)`` per item with both sides quoted."""

    def step(item: Any) -> Point | None:
        bid, ask = _bid_ask(item)
        if bid is None or ask is None:
            return None
        ts, sym = _stamp(item)
        return Point(ts, value(bid, ask), sym)

    return stateful(lambda: step)


def _spread_bps(bid: float, ask: float) -> float:
    m = (ask + bid) / 2.0
    return (ask - bid) / m * 1e4 if m else float("nan")


def mid() -> Callable[[rx.Observable[Any]], Stream[Point]]:
    """The mid price ``(best bid + best ask) / 2`` of each book (or ticker) as a :class:`Point`.

    Books with an empty side emit nothing. Example::

        book.pipe(ops.mid())                       # Point(ts, 60000.05, "BTCUSDT"), ...
        book.pipe(ops.mid(), ops.to_frame())       # a time-indexed frame of mids
    """
    return _from_quotes(lambda bid, ask: round((bid + ask) / 2.0, 9))  # no 67248.95000000001


def spread(*, bps: bool = False) -> Callable[[rx.Observable[Any]], Stream[Point]]:
    """Best ask minus best bid of each book (or ticker), or in basis points of the mid with ``bps=True``.

    Example::

        book.pipe(ops.spread())            # Point(ts, 0.1, "BTCUSDT")
        book.pipe(ops.spread(bps=True))    # Point(ts, 0.0167, "BTCUSDT")
    """
    return _from_quotes(_spread_bps if bps else lambda bid, ask: round(ask - bid, 9))


def imbalance(levels: int = 1) -> Callable[[rx.Observable[Any]], Stream[Point]]:
    """Order-book imbalance over the top ``levels``: ``(bid size - ask size) / (bid size + ask size)``.

    +1 means only bids, -1 only asks. Needs book items (``bids(n)``/``asks(n)``); tickers work for
    ``levels=1`` through their ``bid1Size``/``ask1Size`` fields. Empty books emit nothing. Example::

        book.pipe(ops.imbalance(levels=5))   # Point(ts, 0.23, "BTCUSDT")
    """
    if levels < 1:
        raise ValueError(f"levels must be at least 1, got {levels}")

    def make() -> Callable[[Any], Point | None]:
        def step(item: Any) -> Point | None:
            if hasattr(item, "bids") and hasattr(item, "asks"):
                b = sum(s for _, s in item.bids(levels))
                a = sum(s for _, s in item.asks(levels))
            elif levels == 1 and hasattr(item, "get") and "bid1Size" in item:
                bs, as_ = item.get("bid1Size"), item.get("ask1Size")
                if not isinstance(bs, float) or not isinstance(as_, float):
                    return None
                b, a = bs, as_
            else:
                raise TypeError(
                    f"imbalance(levels={levels}) needs an order book (or a ticker for levels=1), "
                    f"got a {type(item).__name__}: {item!r:.120}"
                )
            total = b + a
            if total <= 0:
                return None
            ts, sym = _stamp(item)
            return Point(ts, (b - a) / total, sym)

        return step

    return stateful(make)
