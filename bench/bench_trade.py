"""Benchmark: order round trip over the WS trade API, client to simulator, on loopback.

A script, not a test. The simulator runs in a child process; the client sends
``order.create`` (a resting PostOnly limit far from the market) and ``order.cancel`` one after
another and times each request from send to its correlated reply. For reference the same run
times a bare websocket ping/pong round trip to the same server, the floor any client pays.

Target (issue 6): p50 under 1 ms. Run: ``.venv/bin/python bench/bench_trade.py [--orders N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path


def _serve(pipe: Connection) -> None:
    from rxbybit.sim import Simulator

    async def main() -> None:
        async with Simulator(port=0, seed=2, symbols=("BTCUSDT",), rate_limit=1_000_000) as sim:
            pipe.send(sim.url)
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)

    asyncio.run(main())


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def run(url: str, orders: int) -> dict[str, list[float]]:
    import websockets

    import rxbybit as rb
    from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET

    out: dict[str, list[float]] = {"create": [], "cancel": [], "ping": []}
    async with websockets.connect(url + "/v5/public/linear", compression=None) as ws:
        for _ in range(orders):
            t = time.perf_counter()
            await ws.send('{"op":"ping"}')
            await ws.recv()
            out["ping"].append((time.perf_counter() - t) * 1000)
    async with rb.Bybit(url, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET) as bybit:
        await bybit.trade.connect()
        for i in range(orders):
            t = time.perf_counter()
            ack = await bybit.trade.create_order(category="linear", symbol="BTCUSDT", side="Buy", order_type="Limit",
                                                 qty="0.001", price="10000", time_in_force="PostOnly",
                                                 order_link_id=f"b-{i}")
            out["create"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await bybit.trade.cancel_order(category="linear", symbol="BTCUSDT", order_id=ack.order_id)
            out["cancel"].append((time.perf_counter() - t) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--results", default=None, help="append headline ratios as JSON lines to this file")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _child import serving

    with serving(_serve) as (_pipe, url):
        result = asyncio.run(run(url, args.orders))
    floor = statistics.median(result["ping"])
    print(f"{'request':>8} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'p50 / raw ping':>15}")
    for name in ("ping", "create", "cancel"):
        values = result[name]
        p50 = pct(values, 0.5)
        print(f"{name:>8} {len(values):>6} {p50:>8.3f} {pct(values, 0.99):>8.3f} {p50 / floor:>15.2f}")
    p50 = pct(result["create"], 0.5)
    print(f"\norder.create round trip p50 {p50:.3f} ms (target < 1 ms): {'met' if p50 < 1 else 'NOT met'}")
    from _report import record

    record(args.results, "trade", "order.create round trip p50", p50, "ms", target=1.0, higher_is_better=False)
    record(args.results, "trade", "order.create p50 / raw websocket ping p50", p50 / floor, "x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
