"""Benchmark: what hostile clients leave behind in the gateway (issue 13), the long version of
``tests/gateway/test_gateway_hostile.py``.

A script, not a test. Two phases against a gateway over the embedded simulator, in this process:

* ``fuzz``: ``--connections`` clients send ``--requests`` hostile requests in all (the generator of
  ``tests/gateway/hostile.py``: garbage, deep nesting, long ids, wide integers, guessed tokens,
  unlisted names, subscribe/unsubscribe storms, oversize frames), then leave;
* ``names``: ``--names`` distinct well-formed topic names (``tickers.L123USDT``) go through the
  gateway's hub with no instrument list (as on a network without REST), in waves of ``--wave``:
  one in ``--reject-every`` waits for the exchange's rejection, the others are abandoned at once.
  (Rejections come back at the transport's bounded request rate, about 10 a second, since a
  rejected batch is retried topic by topic; so waiting for every one of 30,000 would take an hour.)

After each phase it prints what the gateway still holds (sessions, topics in the gateway's router and
in its client), the Python memory still allocated since the phase started (``tracemalloc``,
without the in-process simulator's market), and the process RSS. Bounded: every wait has a deadline.

Run: ``.venv/bin/python bench/bench_gateway_hostile.py [--connections 200] [--requests 100000] [--names 30000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

NOT_THE_GATEWAYS = (tracemalloc.Filter(False, "*/rxbybit/sim/*"), tracemalloc.Filter(False, "*/uuid.py"),
                    tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "*/logging/*"))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _held(before: tracemalloc.Snapshot) -> int:
    after = tracemalloc.take_snapshot().filter_traces(NOT_THE_GATEWAYS)
    return sum(s.size_diff for s in after.compare_to(before.filter_traces(NOT_THE_GATEWAYS), "filename"))


async def _until(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {seconds:g} s waiting for {what}")
        await asyncio.sleep(0.05)


def _report(phase: str, gw: Any, held: int, seconds: float, extra: str) -> None:
    hub = gw.hub
    print(f"{phase:6} {seconds:6.1f} s  {extra}; afterwards: sessions {len(gw.sessions)}, gateway topics "
          f"{hub._public_router.topic_count}, client topics {len(hub.public.health_now().topics)}, "
          f"held {held / 1e3:+.0f} KB (tracemalloc, without the simulator), max RSS {_rss_mb():.0f} MB",
          flush=True)


async def _fuzz(gw: Any, args: argparse.Namespace) -> None:
    from gateway.test_gateway_hostile import _gateway_empty, run_hostile

    per = max(1, args.requests // args.connections)
    gc.collect()
    before = tracemalloc.take_snapshot()
    started = time.monotonic()
    sent, codes = await run_hostile(gw, args.connections, per, seed=args.seed)
    await _until(lambda: _gateway_empty(gw), 60, "the hostile clients to leave")
    elapsed = time.monotonic() - started
    gc.collect()
    internal = codes.get(5000, 0)
    _report("fuzz", gw, _held(before), elapsed, f"{sent} hostile requests on {args.connections} connections, "
            f"{internal} internal errors, {codes.get('closed by the gateway', 0)} connections closed by the gateway")


class _Sink:
    def __init__(self) -> None:
        self.failed = 0

    def deliver(self, data: bytes, wire: bytes | None = None) -> None:
        pass

    def fail(self, path: str, code: Any, message: str) -> None:
        self.failed += 1


async def _names(gw: Any, args: argparse.Namespace) -> None:
    hub = gw.hub
    hub.instruments.clear()  # as on a network without an instrument list: names reach the exchange
    sink = _Sink()
    gc.collect()
    before = tracemalloc.take_snapshot()
    started = time.monotonic()
    waiting = 0
    for first in range(0, args.names, args.wave):
        for i in range(first, min(args.names, first + args.wave)):
            sub = hub.external("linear", f"tickers.L{i}USDT", None, sink)
            if i % args.reject_every:
                sub.dispose()
            else:
                waiting += 1
        await _until(lambda n=waiting: sink.failed >= n, 600, "the exchange's rejections")
    await _until(lambda: hub.public.health_now().topics == {} and hub._public_router.topic_count == 0, 60,
                 "every name to be forgotten")
    elapsed = time.monotonic() - started
    gc.collect()
    _report("names", gw, _held(before), elapsed, f"{args.names} distinct names, {waiting} rejected by the exchange")


async def main(args: argparse.Namespace) -> None:
    from gateway.conftest import make_gateway
    from gateway.test_gateway_hostile import LIMITS

    from rxbybit.gateway import Limits, UserStore

    logging.disable(logging.WARNING)  # thousands of rejections would otherwise be logged
    limits = Limits(**{**{f: getattr(LIMITS, f) for f in LIMITS.__dataclass_fields__},
                       "max_connections_per_address": args.connections + 16})
    store = UserStore(Path(args.db))
    async with make_gateway(store, limits=limits) as gw:
        from gateway.test_gateway_hostile import run_hostile

        await run_hostile(gw, 4, 100, seed=99)  # warm up
        tracemalloc.start()
        print(f"start: max RSS {_rss_mb():.0f} MB", flush=True)
        if args.requests:
            await _fuzz(gw, args)
        if args.names:
            await _names(gw, args)
        tracemalloc.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--names", type=int, default=30_000)
    parser.add_argument("--wave", type=int, default=500, help="names in flight at once")
    parser.add_argument("--reject-every", type=int, default=100, help="one name in N waits for its rejection")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db", default="/tmp/rxbybit-bench-hostile.db")
    asyncio.run(main(parser.parse_args()))
