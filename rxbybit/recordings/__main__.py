"""``python -m rxbybit.recordings DIR``: what a recording dataset holds, queried through DuckDB.

Prints rows and time range per partition, then what ``rxbybit demo`` shows for a symbol as of a
time (the end of the recording unless ``--at`` says otherwise): the order book's top rebuilt from
the recorded frames (its last snapshot before that time and the deltas after it), the ticker merged
the same way, and the last trades.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from ..protocol.book import OrderBook
from ..protocol.decode import decode
from ..protocol.events import BookUpdate, TickerUpdate
from ..protocol.ticker import Ticker, TickerState
from .layout import join_topic, socket_path
from .reader import Dataset, dataset
from .times import to_timestamp


def book_at(ds: Dataset, category: str, topic: str, at: pd.Timestamp) -> OrderBook | None:
    """The recorded book of ``topic`` (``orderbook.50.BTCUSDT``) as of ``at`` (None: no snapshot before it)."""
    book: OrderBook | None = None
    for r in ds.lead_in(at, socket_path(category), topic):
        update = decode(r.frame)
        if isinstance(update, BookUpdate):
            book = book or OrderBook(update.symbol, update.depth)
            book.apply(update)
    return book


def ticker_at(ds: Dataset, category: str, topic: str, at: pd.Timestamp) -> Ticker | None:
    """The recorded ticker of ``topic`` (``tickers.BTCUSDT``) as of ``at``, snapshot and deltas merged."""
    state, out = TickerState(), None
    for r in ds.lead_in(at, socket_path(category), topic):
        update = decode(r.frame)
        if isinstance(update, TickerUpdate):
            out = state.apply(update)
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m rxbybit.recordings", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="the dataset directory (rxbybit record --format parquet -o DIR)")
    parser.add_argument("--symbol", default="BTCUSDT")
    parser.add_argument("--at", default=None, help="show the symbol as of this time (ISO text or epoch ms; "
                                                   "default: the end of the recording)")
    args = parser.parse_args(argv)
    try:
        ds = dataset(args.path)
        at = to_timestamp(int(args.at) if args.at and args.at.isdigit() else args.at, "--at")
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not ds.files():
        print(f"{args.path} holds no complete Parquet file yet", file=sys.stderr)
        return 1
    if at is None:
        last = ds.span()[1]
        at = None if last is None else last + pd.Timedelta(microseconds=1)
    parts = ds.sql("SELECT category, topic, symbol, count(*) AS rows, count(frame) AS frames, "
                   "min(recv_time) AS first, max(recv_time) AS last FROM {dataset} GROUP BY ALL ORDER BY ALL")
    with pd.option_context("display.width", 160, "display.max_columns", 12):
        print(parts.to_string(index=False))
        if at is None:
            return 0
        print(f"\n{args.symbol} as of {at.isoformat()} (what `rxbybit demo` shows, rebuilt from the recorded frames):")
        mine = parts[parts["symbol"] == args.symbol]
        for category, head in zip(mine["category"], mine["topic"], strict=True):
            topic = join_topic(str(head), args.symbol)
            if str(head).startswith("orderbook."):
                book = book_at(ds, str(category), topic, at)
                if book is None:
                    print(f"  {category} {topic}: no snapshot before that time")
                    continue
                bids, asks = book.bids(5), book.asks(5)
                spread = None if book.spread is None else round(book.spread, 9)
                mid = None if book.mid is None else round(book.mid, 9)
                print(f"  {category} {topic}: u={book.u}  spread {spread}  mid {mid}")
                for (bp, bs), (ap, az) in zip(bids, asks, strict=False):
                    print(f"    {bs:>12,.4f} {bp:>12} | {ap:<12} {az:<12,.4f}")
            elif head == "tickers":
                ticker = ticker_at(ds, str(category), topic, at)
                if ticker is not None:
                    vol = ticker.get("volume24h")
                    print(f"  {category} {topic}: last {ticker.last_price}  mark {ticker.mark_price}  24h vol {vol}")
        trades = ds.trades(args.symbol, end=at)
        print(f"\nlast trades of {args.symbol} ({len(trades)} in all):")
        print(trades[["trade_time", "category", "side", "price", "size"]].tail(8).to_string(index=False))
        book_rows = ds.book_updates(args.symbol)
        print(f"\nlast book updates of {args.symbol} ({len(book_rows)} in all):")
        print(book_rows[["ts", "topic", "type", "u", "seq"]].tail(5).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
