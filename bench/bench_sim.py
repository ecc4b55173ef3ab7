"""Benchmark: frames per second the simulator pushes to 1 and to 100 subscribers on loopback.

Bounded run (a fixed number of book deltas, at most 60 s each case). Clients run in the same
process and only count frames, so the numbers are end to end on one core: push + loopback + read.

    .venv/bin/python bench/bench_sim.py [--deltas 20000] [--deltas-100 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from websockets.asyncio.client import connect

from rxbybit.sim import Simulator

TOPIC = "orderbook.50.BTCUSDT"


async def run_case(subscribers: int, deltas: int) -> tuple[float, float]:
    """Returns (frames/s each subscriber received, total frames/s delivered)."""
    async with Simulator(seed=0, symbols=("BTCUSDT",), speed=0.001) as sim:  # background market nearly idle
        conns = [await connect(sim.url + "/v5/public/linear", max_size=2**24) for _ in range(subscribers)]
        try:
            for ws in conns:
                await ws.send(json.dumps({"op": "subscribe", "args": [TOPIC]}))
                await ws.recv()  # ack
                await ws.recv()  # snapshot

            async def reader(ws: object) -> None:
                got = 0
                while got < deltas:
                    await ws.recv()  # type: ignore[attr-defined]
                    got += 1

            readers = [asyncio.create_task(reader(ws)) for ws in conns]
            t0 = time.perf_counter()
            async with asyncio.timeout(60):
                sent = await sim.burst("linear", TOPIC, n=deltas)
                await asyncio.gather(*readers)
            elapsed = time.perf_counter() - t0
            assert sent == deltas, (sent, deltas)
        finally:
            for ws in conns:
                await ws.close()
    return deltas / elapsed, deltas * subscribers / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deltas", type=int, default=20_000, help="deltas pushed to 1 subscriber")
    parser.add_argument("--deltas-100", type=int, default=2_000, help="deltas pushed to 100 subscribers")
    args = parser.parse_args()
    one, one_total = await run_case(1, args.deltas)
    each, total = await run_case(100, args.deltas_100)
    print(f"simulator push, {TOPIC} deltas over loopback (SIMULATED data)")
    print(f"  1 subscriber  : {one:>10,.0f} frames/s")
    print(f"  100 subscribers: {each:>10,.0f} frames/s each, {total:>10,.0f} frames/s delivered in total")
    print(f"  ratio total(100) / total(1): {total / one_total:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
