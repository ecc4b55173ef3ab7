"""Benchmark: memory of a client holding 100 order books at depth 200 and 100 trade tapes.

A replay server in a child process serves ``orderbook.200.S000USDT`` .. ``S099USDT`` and their
``publicTrade`` topics (generated streams: contiguous ``u``, realistic levels and trades). The
client in this process subscribes every book and turns every trade stream into a bounded tape
(``ops.to_frame(max_rows=...)``); the tapes are filled to their bound at the start. It reports:

* RSS of the process before subscribing, with the 100 books, and with the 100 full tapes,
  per book and per tape;
* RSS sampled through a run of ``--minutes`` (books and trades keep arriving at ``--book-rate``
  deltas/s and ``--trade-rate`` trade frames/s per symbol). The first minute (at most half the
  run) is warm-up: each tape's buffer of rows not yet moved into its ring fills up then. The
  growth from the end of the warm-up to the last sample should be none beyond noise.

Run: ``.venv/bin/python bench/bench_memory.py [--minutes 10]`` (the default is a short run).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

BOOKS = 100
DEPTH = 200
GROWTH_LIMIT = 0.02
"""RSS may move by this fraction of the warm-up RSS over the run (allocator noise), not more."""


def symbols(n: int) -> list[str]:
    """``S000USDT`` ...: one name per book."""
    return [f"S{i:03d}USDT" for i in range(n)]


def rss_bytes() -> int:
    """Resident set size of this process."""
    with open(f"/proc/{os.getpid()}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _serve(pipe: Connection, n_books: int, deltas: int, trade_frames: int, book_rate: float,
           trade_rate: float, prefill: int) -> None:
    """Child process: a Bybit-shaped server of ``n_books`` books and trade streams."""
    import orjson
    from bench_protocol import generate, generate_trades
    from websockets.asyncio.server import ServerConnection, serve

    from rxbybit.transport import ws_internals as wsi

    names = symbols(n_books)
    base_book = generate(deltas, seed=21)
    base_trades = generate_trades(trade_frames + prefill, seed=23)
    books = {s: [f.replace("BTCUSDT", s) for f in base_book] for s in names}  # same shape, its own topic
    trades = {s: [f.replace("BTCUSDT", s) for f in base_trades] for s in names}

    async def handler(ws: ServerConnection) -> None:
        pos_b = dict.fromkeys(names, 1)
        pos_t = dict.fromkeys(names, 0)
        wanted_b: list[str] = []
        wanted_t: list[str] = []
        pump: asyncio.Task[None] | None = None

        async def run() -> None:
            for s in wanted_t:  # fill the tapes to their bound first
                ws.transport.write(b"".join(wsi.text_frame(f.encode()) for f in trades[s][:prefill]))
                pos_t[s] = prefill
            start = time.monotonic()
            sent_b = sent_t = 0
            while True:
                await asyncio.sleep(0.01)
                el = time.monotonic() - start
                out = []
                due_b = int(el * book_rate)
                if due_b > sent_b:
                    for s in wanted_b:
                        for _ in range(due_b - sent_b):
                            if pos_b[s] < len(books[s]):
                                out.append(books[s][pos_b[s]])
                                pos_b[s] += 1
                    sent_b = due_b
                due_t = int(el * trade_rate)
                if due_t > sent_t:
                    for s in wanted_t:
                        for _ in range(due_t - sent_t):
                            if pos_t[s] < len(trades[s]):
                                out.append(trades[s][pos_t[s]])
                                pos_t[s] += 1
                    sent_t = due_t
                if out:
                    ws.transport.write(b"".join(wsi.text_frame(f.encode()) for f in out))

        async for msg in ws:
            req = orjson.loads(msg)
            if req.get("op") == "subscribe":
                await ws.send(orjson.dumps({"success": True, "ret_msg": "", "conn_id": "mem",
                                            "req_id": req.get("req_id", ""), "op": "subscribe"}).decode())
                for topic in req.get("args", []):
                    kind, _, sym = topic.rpartition(".")
                    if kind == f"orderbook.{DEPTH}":
                        wanted_b.append(sym)
                        await ws.send(books[sym][0])
                    elif kind == "publicTrade":
                        wanted_t.append(sym)
                if len(wanted_b) == n_books and len(wanted_t) == n_books and pump is None:
                    pump = asyncio.create_task(run())
            elif req.get("op") == "ping":
                await ws.send(orjson.dumps({"success": True, "ret_msg": "pong", "conn_id": "mem",
                                            "req_id": req.get("req_id", ""), "op": "ping"}).decode())
        if pump is not None:
            pump.cancel()

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, compression=None, max_size=2**24) as server:
            pipe.send(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}")
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)

    asyncio.run(main())


async def client(url: str, args: argparse.Namespace) -> dict[str, Any]:
    import rxbybit as rb
    from rxbybit import ops

    names = symbols(args.books)
    gc.collect()
    out: dict[str, Any] = {"rss_empty": rss_bytes()}
    async with rb.Bybit(url) as bybit:
        latest: dict[str, Any] = {}
        subs = [bybit.orderbook(s, depth=DEPTH, category="linear").subscribe(
            lambda v, s=s: latest.__setitem__(s, v)) for s in names]
        async with asyncio.timeout(120):
            while len(latest) < len(names):
                await asyncio.sleep(0.05)
        gc.collect()
        out["rss_books"] = rss_bytes()
        tapes = [bybit.trades(s, category="linear").pipe(ops.to_frame(max_rows=args.tape_rows)) for s in names]
        async with asyncio.timeout(180):
            while min(len(t) for t in tapes) < args.tape_rows:
                await asyncio.sleep(0.1)
        gc.collect()
        out["rss_tapes"] = rss_bytes()
        samples: list[tuple[float, int]] = []
        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        while time.monotonic() < end:
            await asyncio.sleep(min(5.0, max(0.5, args.minutes * 60 / 40)))
            samples.append((time.monotonic() - t0, rss_bytes()))
        out["samples"] = samples
        out["levels"] = sum(len(v) for v in latest.values())
        out["tape_rows"] = sum(len(t) for t in tapes)
        out["health"] = bybit.health_now()
        for t in tapes:
            t.close()
        for sub in subs:
            sub.dispose()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=2.0, help="length of the run (issue 15: 10)")
    ap.add_argument("--books", type=int, default=BOOKS)
    ap.add_argument("--book-rate", type=float, default=10.0, help="deltas per second per book")
    ap.add_argument("--trade-rate", type=float, default=5.0, help="trade frames per second per symbol")
    ap.add_argument("--tape-rows", type=int, default=2_000, help="max_rows of each trade tape")
    ap.add_argument("--results", default=None, help="append headline ratios as JSON lines to this file")
    args = ap.parse_args()

    seconds = args.minutes * 60 + 60  # the warm-up comes first
    deltas = int(seconds * args.book_rate) + 10
    trade_frames = int(seconds * args.trade_rate) + 10
    prefill = args.tape_rows  # frames of 1-6 trades each: more than enough rows to fill a tape
    from _child import serving

    t0 = time.perf_counter()
    with serving(_serve, args.books, deltas, trade_frames, args.book_rate, args.trade_rate, prefill) as (_pipe, url):
        print(f"server ready in {time.perf_counter() - t0:.1f} s ({args.books} books x {deltas:,} deltas, "
              f"{trade_frames + prefill:,} trade frames each)")
        res = asyncio.run(client(url, args))

    mb = 1 / 2**20
    n = args.books
    per_book = (res["rss_books"] - res["rss_empty"]) / n
    per_tape = (res["rss_tapes"] - res["rss_books"]) / n
    print(f"client RSS: {res['rss_empty'] * mb:,.1f} MB connected, {res['rss_books'] * mb:,.1f} MB with {n} books "
          f"at depth {DEPTH} ({res['levels']:,} levels held by the latest views), "
          f"{res['rss_tapes'] * mb:,.1f} MB with {n} full tapes of {args.tape_rows:,} trades")
    print(f"per book: {per_book / 1024:,.0f} KB; per tape: {per_tape / 1024:,.0f} KB; "
          f"book + tape: {(per_book + per_tape) / 1024:,.0f} KB")
    samples = res["samples"]
    warm_s = min(60.0, args.minutes * 30)
    steady = [(t, r) for t, r in samples if t >= warm_s] or samples[-1:]
    warm, last = steady[0][1], samples[-1][1]
    peak = max(r for _, r in steady)
    growth = (last - warm) / warm
    per_tape_steady = (warm - res["rss_books"]) / n
    print(f"after {warm_s:.0f} s of warm-up (tape buffers full): {warm * mb:,.1f} MB, per tape "
          f"{per_tape_steady / 1024:,.0f} KB, book + tape {(per_book + per_tape_steady) / 1024:,.0f} KB")
    print(f"steady run to {args.minutes:g} min ({len(steady)} samples after warm-up): RSS {warm * mb:,.1f} MB -> "
          f"{last * mb:,.1f} MB (peak {peak * mb:,.1f} MB), growth {growth * 100:+.2f} % "
          f"({'none beyond noise' if growth <= GROWTH_LIMIT else 'GROWS'}, limit {GROWTH_LIMIT * 100:.0f} %)")
    step = max(1, len(samples) // 8)
    print("  samples (s, MB): " + ", ".join(f"{t:.0f}: {r * mb:.1f}" for t, r in samples[::step]))
    health = res["health"]
    print(f"health at the end: resyncs {health.resyncs}, {health}"[:300])
    from _report import record

    record(args.results, "memory", f"RSS per book (depth {DEPTH}) + trade tape ({args.tape_rows:,} rows)",
           (per_book + per_tape_steady) / 1024, "KB")
    record(args.results, "memory", f"RSS growth over {args.minutes:g} min", growth * 100, "%",
           target=GROWTH_LIMIT * 100, higher_is_better=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
