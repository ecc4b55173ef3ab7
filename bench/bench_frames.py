"""Benchmarks for live frames and widgets, each reported next to a baseline measured in the same run.

    .venv/bin/python bench/bench_frames.py               # quick (well under 60 s on 2 cores)
    .venv/bin/python bench/bench_frames.py --rows 10_000_000 --seconds 5

1. LiveFrame ingest: batched (``append_arrays``) vs a plain numpy copy of the same columns, and
   per-item (``append(Trade)``) vs appending the same items to a Python list.
2. ``.df`` of 100k rows vs building the same DataFrame directly with pandas from numpy arrays.
3. Memory across ``--rows`` appended rows with ``max_rows=100_000``: ring bytes and process RSS
   before/after (flat means the ring never grows).
4. Widgets under a flood: 10,000 msgs/s into four OrderBookLadders and a LiveTable on a real asyncio
   loop; widget messages sent towards the frontend per second vs the global cap.

Targets (issue 5): >= 1M rows/s batched ingest; ``.df`` of 100k rows < 20 ms; updates/s <= cap.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import ipywidgets
import numpy as np
import pandas as pd
from reactivex.subject import Subject

from rxbybit import widgets
from rxbybit.display import RenderScheduler, set_render_scheduler
from rxbybit.frames import LiveFrame
from rxbybit.protocol import BookUpdate, OrderBook, Trade

T0 = 1_700_000_000_000


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    """Fastest wall time of ``repeat`` runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def columns(n: int, start: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(start)
    ts = np.arange(T0 + start, T0 + start + n, dtype=np.int64)
    side = np.where(rng.random(n) < 0.5, "Buy", "Sell").astype(object)
    return ts, {"price": 60_000 + rng.normal(0, 5, n), "size": rng.random(n), "side": side}


ROWS: list[tuple[str, float, str, float | None, bool]] = []
"""Headline rows for ``--results``: what, value, unit, target, higher is better."""


def bench_ingest(batch: int, total: int) -> None:
    ts, cols = columns(batch)

    def live() -> None:
        f = LiveFrame(100_000)
        for _ in range(total // batch):
            f.append_arrays(ts, cols)

    def baseline() -> None:  # copy the same columns into preallocated arrays, nothing else
        dst = {k: np.empty(100_000, dtype=v.dtype) for k, v in cols.items()}
        dts = np.empty(100_000, dtype=np.int64)
        for i in range(total // batch):
            j = (i * batch) % (100_000 - batch + 1)
            dts[j : j + batch] = ts
            for k, v in cols.items():
                dst[k][j : j + batch] = v

    t_live, t_base = best_of(live, 3), best_of(baseline, 3)
    print(f"[ingest batched] {total / t_live / 1e6:8.2f} M rows/s  (batches of {batch:,}; "
          f"numpy copy baseline {total / t_base / 1e6:.2f} M rows/s; ratio {t_live / t_base:.2f}x the baseline time)"
          f"  target >= 1 M rows/s: {'OK' if total / t_live >= 1e6 else 'MISSED'}")
    ROWS.append(("batched ingest: LiveFrame time / numpy copy time", t_live / t_base, "x", None, False))

    n = 200_000
    trades = [Trade(T0 + i, "BTCUSDT", "Buy", 60_000.0 + i % 7, 0.01, str(i)) for i in range(n)]

    def per_item() -> None:
        f = LiveFrame(100_000)
        for t in trades:
            f.append(t)
        f.flush()

    def list_baseline() -> None:
        out: list[Trade] = []
        for t in trades:
            out.append(t)

    t_item, t_list = best_of(per_item, 3), best_of(list_baseline, 3)
    print(f"[ingest per item] {n / t_item / 1e6:7.2f} M rows/s  (Trade objects; list.append baseline "
          f"{n / t_list / 1e6:.2f} M/s; ratio {t_item / t_list:.1f}x)")
    ROWS.append(("ingest per item: LiveFrame time / list.append time", t_item / t_list, "x", None, False))


def bench_df(rows: int = 100_000) -> None:
    f = LiveFrame(rows)
    ts, cols = columns(rows)
    f.append_arrays(ts, cols)
    extra_ts, extra = columns(1, rows)

    def build() -> None:  # invalidate the cache with one new row, then build
        f.append_arrays(extra_ts, extra)
        _ = f.df

    def baseline() -> None:
        idx = pd.DatetimeIndex(pd.to_datetime(ts, unit="ms", utc=True), name="ts")
        pd.DataFrame({k: v.copy() for k, v in cols.items()}, index=idx, copy=False)

    t_df, t_base = best_of(build, 7), best_of(baseline, 7)
    cached = best_of(lambda: f.df, 7)
    print(f"[.df {rows:,} rows] {t_df * 1e3:8.2f} ms  (plain pandas construction {t_base * 1e3:.2f} ms; "
          f"ratio {t_df / t_base:.2f}x; cached re-read {cached * 1e6:.1f} us)"
          f"  target < 20 ms: {'OK' if t_df < 0.020 else 'MISSED'}")
    ROWS.append((f".df of {rows:,} rows: time / plain pandas construction", t_df / t_base, "x", None, False))


def bench_memory(total: int, batch: int = 50_000) -> None:
    f = LiveFrame(100_000)
    ts, cols = columns(batch)
    for _ in range(100_000 // batch):  # fill the ring once
        f.append_arrays(ts, cols)
    gc.collect()
    ring0, rss0 = f.nbytes, rss_bytes()
    t = time.perf_counter()
    done = 100_000
    while done < total:
        f.append_arrays(ts + done, cols)
        done += batch
    elapsed = time.perf_counter() - t
    _ = f.df
    del _
    gc.collect()
    ring1, rss1 = f.nbytes, rss_bytes()
    print(f"[memory] {done:,} rows appended with max_rows=100,000 in {elapsed:.2f} s: ring {ring0:,} -> {ring1:,} "
          f"bytes; RSS {rss0 / 1e6:.1f} -> {rss1 / 1e6:.1f} MB (ratio {rss1 / max(rss0, 1):.3f}); rows held {len(f):,}")
    ROWS.append((f"memory: RSS after {done:,} rows / before (max_rows 100,000)", rss1 / max(rss0, 1), "x", 1.05,
                 False))


def bench_memory_items(total: int) -> None:
    f = LiveFrame(100_000)
    for i in range(100_000):
        f.append(Trade(T0 + i, "BTCUSDT", "Buy", 60_000.0, 0.01, f"trade-{i}"))
    f.flush()
    gc.collect()
    ring0, rss0 = f.nbytes, rss_bytes()
    t = time.perf_counter()
    for i in range(100_000, total):  # distinct trade_id strings: old ones must be released
        f.append(Trade(T0 + i, "BTCUSDT", "Sell", 60_000.0 + i % 13, 0.01, f"trade-{i}"))
    f.flush()
    elapsed = time.perf_counter() - t
    gc.collect()
    ring1, rss1 = f.nbytes, rss_bytes()
    print(f"[memory per item] {total:,} Trades appended one by one ({(total - 100_000) / elapsed / 1e6:.2f} M/s): "
          f"ring {ring0:,} -> {ring1:,} bytes; RSS {rss0 / 1e6:.1f} -> {rss1 / 1e6:.1f} MB "
          f"(ratio {rss1 / max(rss0, 1):.3f})")


async def flood(seconds: float, rate: int, cap: float, ladders: int) -> None:
    sched = RenderScheduler(cap)
    old = set_render_scheduler(sched)
    sent = 0
    original = ipywidgets.Widget._send

    def counting_send(self: ipywidgets.Widget, msg: object, buffers: object = None) -> None:
        nonlocal sent
        sent += 1
        original(self, msg, buffers)

    ipywidgets.Widget._send = counting_send
    try:
        books: Subject[object] = Subject()
        trades: Subject[object] = Subject()
        views = [widgets.OrderBookLadder(books, levels=10) for _ in range(ladders)]
        views.append(widgets.LiveTable(trades, rows=10))
        ob = OrderBook("BTCUSDT", depth=50)
        ob.apply(BookUpdate("t", "BTCUSDT", 50, True, T0, 1, 1, [(100.0 - i, 1.0) for i in range(50)],
                            [(101.0 + i, 1.0) for i in range(50)]))
        u = 1
        sent = 0
        received = 0
        loop = asyncio.get_running_loop()
        start = loop.time()
        while loop.time() - start < seconds:
            due = int((loop.time() - start) * rate)  # catch up to the target rate
            while received < due:
                u += 1
                ob.apply(BookUpdate("t", "BTCUSDT", 50, False, T0 + u, u, u, [(100.0 - u % 7, 1.0 + u % 97)], []))
                books.on_next(ob.view())
                trades.on_next(Trade(T0 + u, "BTCUSDT", "Buy", 100.0, 0.01, str(u)))
                received += 2
            await asyncio.sleep(0.005)
        elapsed = loop.time() - start
        renders = sched.renders
        for v in views:
            v.close()
    finally:
        ipywidgets.Widget._send = original
        set_render_scheduler(old)
    print(f"[widgets] {received / elapsed:,.0f} msgs/s in for {elapsed:.1f} s into {len(views)} widgets: "
          f"{renders / elapsed:.1f} renders/s, {sent / elapsed:.1f} widget messages/s sent "
          f"(global cap {cap:.0f} renders/s; renders/cap ratio {renders / elapsed / cap:.2f}; "
          f"msgs in per message sent {received / max(sent, 1):.0f}) "
          f"{'OK' if renders / elapsed <= cap * 1.05 else 'OVER CAP'}")
    ROWS.append(("widgets flood: renders/s / global cap", renders / elapsed / cap, "x", 1.05, False))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=10_000_000, help="rows appended in the memory test (issue: 10M)")
    p.add_argument("--seconds", type=float, default=3.0, help="duration of the widget flood")
    p.add_argument("--rate", type=int, default=10_000, help="messages per second in the widget flood")
    p.add_argument("--cap", type=float, default=30.0, help="global render cap for the widget flood")
    p.add_argument("--ladders", type=int, default=10, help="OrderBookLadders in the flood (4 fps each)")
    p.add_argument("--item-rows", type=int, default=1_000_000, help="Trade objects appended one by one")
    p.add_argument("--results", default=None, help="append headline ratios as JSON lines to this file")
    a = p.parse_args()
    bench_ingest(batch=10_000, total=2_000_000)
    bench_df()
    bench_memory(a.rows)
    bench_memory_items(a.item_rows)
    asyncio.run(flood(a.seconds, a.rate, a.cap, a.ladders))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _report import record

    for what, value, unit, target, higher in ROWS:
        record(a.results, "frames", what, value, unit, target=target, higher_is_better=higher)


if __name__ == "__main__":
    main()
