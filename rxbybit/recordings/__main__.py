"""``python -m rxbybit.recordings DIR``: what a recording dataset holds, queried through DuckDB.

Prints rows and time range per partition, then the last trades and book updates of a symbol.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from .reader import dataset


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m rxbybit.recordings", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="the dataset directory (rxbybit record --format parquet -o DIR)")
    parser.add_argument("--symbol", default="BTCUSDT")
    args = parser.parse_args(argv)
    try:
        ds = dataset(args.path)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not ds.files():
        print(f"{args.path} holds no complete Parquet file yet", file=sys.stderr)
        return 1
    with pd.option_context("display.width", 160, "display.max_columns", 12):
        print(ds.sql("SELECT category, topic, symbol, count(*) AS rows, count(frame) AS frames, "
                     "min(recv_time) AS first, max(recv_time) AS last FROM {dataset} GROUP BY ALL ORDER BY ALL")
              .to_string(index=False))
        trades = ds.trades(args.symbol)
        print(f"\nlast trades of {args.symbol} ({len(trades)} in all):")
        print(trades[["trade_time", "category", "side", "price", "size"]].tail(8).to_string(index=False))
        book = ds.book_updates(args.symbol)
        print(f"\nlast book updates of {args.symbol} ({len(book)} in all):")
        print(book[["ts", "topic", "type", "u", "seq"]].tail(5).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
