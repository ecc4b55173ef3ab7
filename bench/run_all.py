"""Run every benchmark and print one table of the ratios they measured (``make bench``).

Each script runs in its own process, one after the other (so they do not compete for the
machine), prints its own detailed output, and appends its headline rows to a results file
(``--results``, see ``_report.py``); the table at the end gathers them all. A script that
fails, or does not write rows, says so in the table instead of hiding.

    .venv/bin/python bench/run_all.py            # every benchmark at the issues' sizes (about an hour)
    .venv/bin/python bench/run_all.py --quick    # smaller runs (a few minutes in all)
    .venv/bin/python bench/run_all.py --only protocol,sim
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHES: list[tuple[str, str, list[str], list[str]]] = [
    # name, script, arguments of the full run (issue sizes), arguments of the quick run
    ("protocol", "bench_protocol.py", [], ["--deltas", "30000", "--frames", "15000", "--rounds", "3"]),
    ("client", "bench_client.py", [], ["--burst", "20000", "--latency-seconds", "2", "--sources", "replay"]),
    ("sim", "bench_sim.py", [], ["--deltas", "20000", "--deltas-100", "1500", "--rounds", "2"]),
    ("memory", "bench_memory.py", ["--minutes", "10"], ["--minutes", "2"]),
    ("frames", "bench_frames.py", [], ["--rows", "2000000", "--item-rows", "300000", "--seconds", "2"]),
    ("trade", "bench_trade.py", [], ["--orders", "500"]),
    ("gateway", "bench_gateway.py", ["--clients", "1000"], ["--clients", "300", "--seconds", "5"]),
    ("gateway5k", "bench_gateway.py", ["--clients", "5000"], ["--clients", "1000", "--seconds", "5"]),
    ("hostile", "bench_gateway_hostile.py", [], ["--connections", "50", "--requests", "5000", "--names", "2000"]),
    ("chaos", "bench_chaos.py", [], ["--seconds", "60"]),
    ("rest", "bench_rest.py", [], ["--n", "200"]),
    ("dataset", "bench_dataset.py", [], ["--trades", "40000", "--deltas", "20000"]),
    ("replicas", "bench_replicas.py", [], ["--clients", "300", "--seconds", "5", "--rounds", "1", "--failovers", "1"]),
    ("tables", "bench_tables.py", [], ["--seconds", "3"]),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs of every benchmark")
    ap.add_argument("--only", default="", help="comma-separated names: " + ",".join(b[0] for b in BENCHES))
    args = ap.parse_args()
    only = {s for s in args.only.split(",") if s}
    env = dict(os.environ)
    root = str(HERE.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")

    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, script, full, quick in BENCHES:
            if only and name not in only:
                continue
            path = HERE / script
            if not path.exists():
                rows.append({"bench": name, "what": f"{script} not found", "value": None})
                continue
            out = Path(tmp) / f"{name}.jsonl"
            cmd = [sys.executable, str(path), *(quick if args.quick else full)]
            takes_results = "--results" in path.read_text()
            if takes_results:
                cmd += ["--results", str(out)]
            print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
            t0 = time.perf_counter()
            code = subprocess.call(cmd, cwd=root, env=env)
            took = time.perf_counter() - t0
            got = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
            if code != 0:
                rows.append({"bench": name, "what": f"FAILED (exit code {code}) after {took:.0f} s", "value": None})
            elif not got:
                rows.append({"bench": name, "what": "no ratio rows (numbers in its output above)", "value": None})
            rows += got
    print_table(rows)
    return 0


def print_table(rows: list[dict[str, object]]) -> None:
    """One table: benchmark, what was compared, the value, the target and whether it is met."""
    print("\n" + "=" * 118)
    print(f"{'bench':<9} {'measured side by side':<72} {'value':>12} {'target':>12} {'met':>6}")
    print("-" * 118)
    for r in rows:
        value = r.get("value")
        unit = str(r.get("unit") or "")
        unit = unit if unit in ("x", "%", "") else " " + unit
        target = r.get("target")
        better = ">=" if r.get("higher_is_better", True) else "<="
        v = "" if not isinstance(value, (int, float)) else f"{value:,.2f}{unit}"
        t = "" if not isinstance(target, (int, float)) else f"{better} {target:,.2f}{unit}"
        met = "" if r.get("met") is None else ("yes" if r["met"] else "NO")
        print(f"{r['bench']!s:<9} {str(r['what'])[:72]:<72} {v:>12} {t:>12} {met:>6}")
    print("=" * 118)


if __name__ == "__main__":
    raise SystemExit(main())
