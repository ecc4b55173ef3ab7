"""Benchmark: the Parquet dataset recorder and reader, side by side with a JSONL recording.

A script, not a test. It generates realistic frames (``publicTrade.BTCUSDT`` frames of 1 to 4
trades with UUID ids, a price random walk and 3-decimal sizes, one every ~20 ms; and the
``orderbook.200.BTCUSDT`` stream of ``bench_protocol.generate``: a snapshot then deltas touching 1
to 8 levels), then measures in one run:

* writing: frames/s and rows/s through ``DatasetWriter.write`` (JSON decode, typed columns, zstd
  Parquet, rename on close), and the same frames as JSONL lines (``rxbybit record``'s format);
* on disk: bytes per trade and per book delta, the raw ``frame`` column's share, and the JSONL
  bytes for the same frames;
* reading: rows/s for ``rb.dataset(...).trades()`` and ``.book_updates()`` (DuckDB into pandas),
  a one-hour ``trades(start, end)`` window, and pyarrow's ``dataset().to_table()``.

Run: ``.venv/bin/python bench/bench_dataset.py [--trades 200000] [--deltas 100000]``. Bounded by
its sizes; it writes to a temporary directory that it removes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow.dataset as pds
import pyarrow.parquet as pq
from bench_protocol import generate

import rxbybit as rb
from rxbybit.recordings import PARTITION_SCHEMA, DatasetWriter

LINEAR = "/v5/public/linear"
T0 = 1_795_312_085_000  # 2026-11-22 01:48:05 UTC


def trade_frames(n_frames: int, seed: int = 3) -> list[tuple[float, str]]:
    rng = random.Random(seed)
    price, t, seq, out = 65_000.0, T0, 10**9, []
    for _ in range(n_frames):
        t += rng.randint(1, 40)
        seq += 1
        rows = []
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            price = max(1.0, price + rng.choice((-0.1, 0.0, 0.1)) * rng.randint(0, 3))
            rows.append({"T": t, "s": "BTCUSDT", "S": rng.choice(("Buy", "Sell")),
                         "v": f"{max(0.001, rng.expovariate(1 / 0.05)):.3f}", "p": f"{price:.1f}",
                         "L": rng.choice(("PlusTick", "ZeroPlusTick", "MinusTick", "ZeroMinusTick")),
                         "i": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "BT": False, "RPI": False,
                         "seq": seq})
        frame = json.dumps({"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": t + 3, "data": rows},
                           separators=(",", ":"))
        out.append(((t + 25) / 1000, frame))
    return out


def book_frames(n_deltas: int) -> list[tuple[float, str]]:
    frames = generate(n_deltas)
    return [((T0 + 20 * i + 5) / 1000, f) for i, f in enumerate(frames)]


def size_of(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths)


def column_bytes(paths: list[Path], column: str) -> int:
    total = 0
    for p in paths:
        md = pq.read_metadata(p)
        for g in range(md.num_row_groups):
            rg = md.row_group(g)
            for c in range(rg.num_columns):
                if rg.column(c).path_in_schema == column:
                    total += rg.column(c).total_compressed_size
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trades", type=int, default=200_000, help="trade frames (1-4 trades each)")
    parser.add_argument("--deltas", type=int, default=100_000, help="book deltas (after one snapshot)")
    parser.add_argument("--results", default=None, help="append headline ratios as JSON lines to this file")
    args = parser.parse_args()
    print(f"generating {args.trades:,} trade frames and {args.deltas:,} book deltas...", file=sys.stderr)
    trades, book = trade_frames(args.trades), book_frames(args.deltas)
    frames = sorted(trades + book)
    with tempfile.TemporaryDirectory() as tmp:
        root, jsonl = Path(tmp) / "ds", Path(tmp) / "rec.jsonl"
        t0 = time.perf_counter()
        longest = 0.0
        with DatasetWriter(root) as w:
            for t, f in frames:
                a = time.perf_counter()
                w.write(LINEAR, f, t)
                longest = max(longest, time.perf_counter() - a)
        write_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with open(jsonl, "w", encoding="utf-8") as fh:
            for t, f in frames:
                fh.write(json.dumps({"t": t, "path": LINEAR, "frame": f}) + "\n")
        jsonl_s = time.perf_counter() - t0

        trade_files = list((root / "category=linear" / "topic=publicTrade").rglob("*.parquet"))
        book_files = list((root / "category=linear" / "topic=orderbook.200").rglob("*.parquet"))
        n_trades = sum(pq.read_metadata(p).num_rows for p in trade_files)
        n_book = sum(pq.read_metadata(p).num_rows for p in book_files)
        rows = n_trades + n_book
        jsonl_trade = sum(len(json.dumps({"t": t, "path": LINEAR, "frame": f})) + 1 for t, f in trades)
        jsonl_book = sum(len(json.dumps({"t": t, "path": LINEAR, "frame": f})) + 1 for t, f in book)

        ds = rb.dataset(root)
        t0 = time.perf_counter()
        df_trades = ds.trades("BTCUSDT")
        read_trades_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        df_book = ds.book_updates("BTCUSDT")
        read_book_s = time.perf_counter() - t0
        start = df_trades["trade_time"].iloc[len(df_trades) // 2]
        t0 = time.perf_counter()
        window = ds.trades("BTCUSDT", start=start, end=start + __import__("pandas").Timedelta(hours=1))
        window_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        table = pds.dataset(root, format="parquet",
                            partitioning=pds.partitioning(PARTITION_SCHEMA, flavor="hive")).to_table()
        arrow_s = time.perf_counter() - t0
        assert len(df_trades) == n_trades and len(df_book) == n_book and table.num_rows == rows

        print(f"\n{len(frames):,} frames: {len(trades):,} trade frames ({n_trades:,} trades) and "
              f"{len(book):,} book frames (1 snapshot + deltas, 200 levels)")
        print("\nwriting (one process, this machine)")
        print(f"  DatasetWriter  {len(frames) / write_s:>10,.0f} frames/s  {rows / write_s:>10,.0f} rows/s  "
              f"({write_s:.2f} s, {len(w.files)} files); longest write() call {longest * 1000:.1f} ms "
              "(fed as fast as it goes, so it includes waiting for the writer thread)")
        print(f"  JSONL          {len(frames) / jsonl_s:>10,.0f} frames/s  (json.dumps + write, for scale)")
        print("\non disk (zstd Parquet vs the JSONL recording of the same frames)")
        tb, bb = size_of(trade_files), size_of(book_files)
        tf, bf = column_bytes(trade_files, "frame"), column_bytes(book_files, "frame")
        print(f"  per trade       {tb / n_trades:>8.1f} B   (raw frame column {tf / n_trades:.1f} B of it); "
              f"JSONL {jsonl_trade / n_trades:.1f} B  -> x{jsonl_trade / tb:.1f} smaller")
        print(f"  per book frame  {bb / n_book:>8.1f} B   (raw frame column {bf / n_book:.1f} B of it); "
              f"JSONL {jsonl_book / n_book:.1f} B  -> x{jsonl_book / bb:.1f} smaller")
        print(f"  whole dataset   {size_of(list(root.rglob('*.parquet'))) / 2**20:.1f} MiB vs JSONL "
              f"{os.path.getsize(jsonl) / 2**20:.1f} MiB")
        print("\nreading")
        print(f"  trades()        {n_trades / read_trades_s:>10,.0f} rows/s  ({read_trades_s:.2f} s, DuckDB -> pandas)")
        print(f"  book_updates()  {n_book / read_book_s:>10,.0f} rows/s  ({read_book_s:.2f} s, with level lists)")
        print(f"  1-hour window   {len(window):>10,} rows in {window_s * 1000:.0f} ms")
        print(f"  pyarrow table   {rows / arrow_s:>10,.0f} rows/s  ({arrow_s:.2f} s, every column)")
        if args.results:  # the one table of `make bench` (bench/run_all.py)
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from _report import record

            record(args.results, "dataset", "DatasetWriter frames/s / JSONL frames/s", jsonl_s / write_s, "x")
            record(args.results, "dataset", "JSONL bytes / Parquet bytes per trade", jsonl_trade / tb, "x")


if __name__ == "__main__":
    main()
