"""Benchmark: uptime during minutes of network chaos and recovery time after it, with the DEFAULT
backoff policy, for this checkout and (optionally) an older one, in one invocation.

A seeded TCP fault proxy (``tests/chaos/proxy.py``) sits between the client and the simulator and
delays, splits, stalls and cuts connections (mean connection life 4 s, a stall now and then, a
proxy-wide outage of 0.5-4 s about every 50 s) while the client streams three books, trades and
private orders and creates an order twice a second. Then the faults stop and the run measures
how long until every socket is up, the exchange holds exactly the observed topics and every book
emits again. Each version runs in its own child process, one after the other, with the same seed.

Run: ``.venv/bin/python bench/bench_chaos.py [--seconds 180] [--seed 1] [--before DIR]`` where DIR
holds an older ``rxbybit`` package (e.g. ``git archive main rxbybit | tar -x -C DIR``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def single(seconds: float, seed: int) -> None:
    """Child process: one run with whatever ``rxbybit`` is importable; prints JSON on the last line."""
    import logging

    logging.getLogger("rxbybit").setLevel(logging.ERROR)
    sys.path.insert(0, str(ROOT / "tests"))
    from chaos.run import chaos_run, describe

    report = asyncio.run(chaos_run(seconds, seed=seed, calm_s=60.0, order_rate=2.0))
    print(describe(report), file=sys.stderr)
    data = dict(vars(report), outcomes=dict(report.outcomes), mean_uptime=report.mean_uptime)
    print(json.dumps(data))


def run_version(label: str, pythonpath: Path, seconds: float, seed: int) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    out = subprocess.run([sys.executable, __file__, "--single", "--seconds", str(seconds), "--seed", str(seed)],
                         env=env, capture_output=True, text=True, timeout=seconds + 300, check=True)
    print(f"[{label}] {out.stderr.strip().splitlines()[-1]}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--before", type=Path, help="a directory holding an older rxbybit package")
    parser.add_argument("--results", default=None, help="append headline ratios as JSON lines to this file")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        single(args.seconds, args.seed)
        return
    runs = []
    if args.before is not None:
        runs.append(("before", run_version("before", args.before.resolve(), args.seconds, args.seed)))
    runs.append(("after", run_version("after", ROOT, args.seconds, args.seed)))
    print(f"\n{args.seconds:.0f} s of chaos, seed {args.seed}, default backoff policy")
    print(f"{'version':8} {'uptime':>7} {'linear':>7} {'spot':>7} {'private':>8} {'trade':>7} {'recovery':>9} "
          f"{'reconn':>7} {'orders ok':>10} {'unknown':>8} {'not sent':>9} {'dupes':>6} {'books ok':>9}")
    for label, r in runs:
        up = r["uptime"]
        assert isinstance(up, dict)
        outcomes = r["outcomes"]
        assert isinstance(outcomes, dict)
        total = sum(outcomes.values())
        rec = r["recovery_s"]
        print(f"{label:8} {r['mean_uptime']:>7.1%} {up.get('linear', 0):>7.1%} {up.get('spot', 0):>7.1%} "
              f"{up.get('private', 0):>8.1%} {up.get('trade', 0):>7.1%} "
              f"{'never' if rec is None else f'{rec:.2f} s':>9} {r['reconnects']:>7} "
              f"{outcomes.get('ack', 0):>4}/{total:<5} {outcomes.get('unknown', 0):>8} "
              f"{outcomes.get('not_sent', 0):>9} {r['duplicates']:>6} "
              f"{r['books_equal'] and r['subscriptions_equal']!s:>9}")
        untyped = {k: v for k, v in outcomes.items() if k.startswith("untyped")}
        if untyped:
            print(f"         untyped failures: {untyped}")
    if args.results:  # the one table of `make bench` (bench/run_all.py)
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _report import record

        r = runs[-1][1]
        record(args.results, "chaos", f"uptime over {args.seconds:.0f} s of chaos", float(r["mean_uptime"]) * 100, "%")
        rec = r["recovery_s"]
        if isinstance(rec, (int, float)):
            record(args.results, "chaos", "recovery after the chaos", float(rec), "s", higher_is_better=False)


if __name__ == "__main__":
    main()
