"""Benchmark: REST round trip to the simulator beside the WS trade API's, side by side in one run.

A script, not a test. The simulator runs in a child process (it serves REST on its sockets' port).
One run times, one request after another on loopback:

- ``ws ping``: a bare websocket ping/pong (the floor of any socket round trip);
- ``ws order.create`` / ``ws order.cancel``: the WS trade API through ``bybit.trade``;
- ``rest tickers``: ``RestClient.tickers`` (public GET, envelope checked);
- ``rest open orders``: ``RestClient.open_orders`` (signed GET);
- ``pybit tickers``: pybit's HTTP client (requests) for the same public GET, for reference;
- ``rest keep-alive``: ``RestClient.get`` against a trivial keep-alive HTTP server in the child
  process answering a fixed envelope: what a REST call costs when its connection is reused.

Every REST answer of the simulator closes its connection (its socket server answers one plain
HTTP request per connection), so each simulator REST call pays a TCP connect and httpx's
connection setup; the keep-alive row shows that share.
Run: ``.venv/bin/python bench/bench_rest.py [--n N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _child import serving  # the bench folder is not a package: its own path, as above
from bench_trade import pct
from bench_trade import run as trade_round_trips


def _serve(pipe: Connection) -> None:
    from rxbybit.sim import Simulator

    body = b'{"retCode":0,"retMsg":"OK","result":{"list":[]},"retExtInfo":{},"time":1}'
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        floor = await asyncio.start_server(keep_alive, "127.0.0.1", 0)
        async with Simulator(port=0, seed=2, symbols=("BTCUSDT",), rate_limit=1_000_000) as sim:
            sim.rest.limit_per_s = 1_000_000
            sim.rest.ip_limit = None
            pipe.send((sim.url, f"http://127.0.0.1:{floor.sockets[0].getsockname()[1]}"))
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        floor.close()

    asyncio.run(main())


async def run(url: str, floor_url: str, n: int) -> dict[str, list[float]]:
    from rxbybit.protocol.signing import Credentials
    from rxbybit.rest import RestClient
    from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET

    out: dict[str, list[float]] = {k: [] for k in ("ws ping", "ws order.create", "ws order.cancel", "rest tickers",
                                                   "rest open orders", "rest keep-alive")}
    ws = await trade_round_trips(url, n)  # the WS side exactly as bench_trade measures it
    out["ws ping"], out["ws order.create"], out["ws order.cancel"] = ws["ping"], ws["create"], ws["cancel"]
    async with RestClient(url, credentials=Credentials(DEMO_API_KEY, DEMO_API_SECRET)) as rest:
        for _ in range(n):
            t = time.perf_counter()
            await rest.tickers("linear", "BTCUSDT")
            out["rest tickers"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await rest.open_orders("linear", symbol="BTCUSDT")
            out["rest open orders"].append((time.perf_counter() - t) * 1000)
    async with RestClient(floor_url) as rest:
        for _ in range(n):
            t = time.perf_counter()
            await rest.get("/v5/market/tickers", {"category": "linear"})
            out["rest keep-alive"].append((time.perf_counter() - t) * 1000)
    return out


def run_pybit(url: str, n: int) -> list[float]:
    from pybit.unified_trading import HTTP  # type: ignore[import-untyped]

    session = HTTP()
    session.endpoint = url.replace("ws://", "http://")
    times = []
    for _ in range(n):
        t = time.perf_counter()
        session.get_tickers(category="linear", symbol="BTCUSDT")
        times.append((time.perf_counter() - t) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000)
    parser.add_argument("--results", default=None, help="append headline ratios as JSON lines to this file")
    args = parser.parse_args()
    with serving(_serve) as (_pipe, (url, floor_url)):
        result = asyncio.run(run(url, floor_url, args.n))
        try:
            result["pybit tickers"] = run_pybit(url, args.n)
        except ImportError:
            print("pybit not installed: its row is left out")
    floor = pct(result["ws ping"], 0.5)
    create = pct(result["ws order.create"], 0.5)
    print(f"{'request':>17} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'p50/ping':>9} {'p50/create':>11}")
    for name, values in result.items():
        p50 = pct(values, 0.5)
        print(f"{name:>17} {len(values):>6} {p50:>8.3f} {pct(values, 0.99):>8.3f} {p50 / floor:>9.2f} "
              f"{p50 / create:>11.2f}")
    if args.results:  # the one table of `make bench` (bench/run_all.py)
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _report import record

        rest = pct(result["rest tickers"], 0.5)
        record(args.results, "rest", "REST tickers p50 / WS order.create p50", rest / create, "x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
