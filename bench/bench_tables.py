"""Render cost of a live table at 10,000 messages a second: rxbybit's LiveTable (one HTML string per
render) vs ipydatagrid's DataGrid (a streaming data grid widget), side by side in one run.

    .venv/bin/python bench/bench_tables.py                # 10 s of feed per case, well under a minute
    .venv/bin/python bench/bench_tables.py --seconds 30 --rate 10000 --fps 4

Each case feeds ``rate`` trades a second of (virtual) time into a LiveFrame, in chunks of
``rate / fps``, and renders the table once per chunk (what the render scheduler does at ``fps``).
Without a kernel nothing is sent, so each render also does what ipywidgets does to send it:
``get_state`` of the changed trait, the binary-buffer split and the JSON of the message. The baseline
is the ingest alone; a case's render cost is its CPU time minus the baseline's, per second of feed.
Bytes per second is what would travel to the browser (JSON plus binary buffers).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets
from ipywidgets.widgets.widget import _remove_buffers

from rxbybit import widgets
from rxbybit.display import RenderScheduler, set_render_scheduler
from rxbybit.frames import LiveFrame
from rxbybit.protocol import Trade

T0 = 1_700_000_000_000


def trades(n: int, start: int) -> list[Trade]:
    return [Trade(T0 + (start + i) // 10, "BTCUSDT", "Buy" if (start + i) % 3 else "Sell",
                  60_000.0 + ((start + i) % 200) * 0.1, 0.001 * (1 + (start + i) % 50), f"id-{start + i}")
            for i in range(n)]


def send_cost(widget: ipywidgets.Widget, keys: list[str]) -> int:
    """Do what ipywidgets does to send ``keys`` of ``widget``; returns the message's bytes."""
    state = widget.get_state(keys)
    state, buffer_paths, buffers = _remove_buffers(state)
    text = json.dumps({"method": "update", "state": state, "buffer_paths": buffer_paths})
    return len(text) + sum(len(memoryview(b).cast("B")) for b in buffers)


class Case:
    """One way of showing the newest ``rows`` of the frame."""

    def __init__(self, name: str, make: Callable[[LiveFrame], Callable[[], int]] | None) -> None:
        self.name, self.make = name, make


def live_table(rows: int) -> Callable[[LiveFrame], Callable[[], int]]:
    def make(frame: LiveFrame) -> Callable[[], int]:
        table = widgets.LiveTable(frame, rows=rows, columns=["side", "price", "size", "trade_id"], tick_size="0.1",
                                  lot_size="0.001")

        def render() -> int:
            table._render()
            return send_cost(table.html, ["value"])

        return render

    return make


def datagrid(rows: int) -> Callable[[LiveFrame], Callable[[], int]]:
    from ipydatagrid import DataGrid  # type: ignore[import-not-found]

    def make(frame: LiveFrame) -> Callable[[], int]:
        grid = DataGrid(frame.tail(rows).iloc[::-1][["side", "price", "size", "trade_id"]])

        def render() -> int:
            grid.data = frame.tail(rows).iloc[::-1][["side", "price", "size", "trade_id"]]
            return send_cost(grid, ["_data"])

        return render

    return make


def run(case: Case, seconds: int, rate: int, fps: int) -> dict[str, Any]:
    frame = LiveFrame(20_000)
    per_chunk = rate // fps
    chunks = [trades(per_chunk, i * per_chunk) for i in range(seconds * fps)]
    frame.extend(trades(1000, -1000))  # the table starts with rows
    render = case.make(frame) if case.make is not None else None
    gc.collect()
    sent = 0
    renders = 0
    cpu = time.process_time()
    wall = time.perf_counter()
    for chunk in chunks:
        frame.extend(chunk)
        if render is not None:
            sent += render()
            renders += 1
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    return {"case": case.name, "cpu_s": cpu, "wall_s": wall, "renders": renders, "bytes": sent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="seconds of feed per case")
    parser.add_argument("--rate", type=int, default=10_000, help="messages per second")
    parser.add_argument("--fps", type=int, default=4, help="renders per second")
    parser.add_argument("--results", default=None, help="append headline ratios as JSON lines to this file")
    args = parser.parse_args()
    # ipydatagrid serializes the UTC index through bqplot, which warns about the time zone on every render
    warnings.filterwarnings("ignore", message="no explicit representation of timezones")
    set_render_scheduler(RenderScheduler())  # no loop: renders happen only where the bench calls them
    cases = [
        Case("ingest only (baseline)", None),
        Case("LiveTable 20 rows (HTML)", live_table(20)),
        Case("ipydatagrid 20 rows", datagrid(20)),
        Case("LiveTable 500 rows (HTML)", live_table(500)),
        Case("ipydatagrid 500 rows", datagrid(500)),
    ]
    results = [run(c, args.seconds, args.rate, args.fps) for c in cases]
    base = results[0]["cpu_s"]
    print(f"{args.rate:,} msgs/s for {args.seconds} s, {args.fps} renders/s "
          f"({args.rate * args.seconds:,} trades, {args.seconds * args.fps} renders per case)")
    print(f"{'case':<28} {'CPU s':>7} {'render ms/s':>12} {'ms/render':>10} {'% of a core':>12} "
          f"{'KB/s to browser':>16}")
    for r in results:
        extra = max(0.0, r["cpu_s"] - base)
        per_s = extra / args.seconds * 1000
        per_render = extra / r["renders"] * 1000 if r["renders"] else 0.0
        kbps = r["bytes"] / args.seconds / 1024
        print(f"{r['case']:<28} {r['cpu_s']:>7.2f} {per_s:>12.1f} {per_render:>10.2f} {per_s / 10:>11.1f}% "
              f"{kbps:>16.1f}")
    if args.results:  # the one table of `make bench` (bench/run_all.py)
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _report import record

        cost = {r["case"]: max(1e-9, r["cpu_s"] - base) for r in results}
        for rows in (20, 500):
            record(args.results, "tables", f"{rows} rows: ipydatagrid render CPU / LiveTable render CPU",
                   cost[f"ipydatagrid {rows} rows"] / cost[f"LiveTable {rows} rows (HTML)"], "x")


if __name__ == "__main__":
    main()
