"""``rxbybit tail TOPIC`` and ``rxbybit record TOPIC... -o FILE.jsonl``.

The recording format (one JSON object a line) is what the simulator's replay mode serves:
``{"t": <receive time, epoch seconds>, "path": "/v5/public/linear", "frame": "<raw frame text>"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import sys
import time
from typing import IO, Any

from .client import Bybit, run
from .protocol.endpoints import ENDPOINT_PATHS, ENDPOINTS
from .protocol.json_codec import dumps
from .protocol.topics import parse


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network", default=os.environ.get("RXBYBIT_NETWORK", "sim"),
                        help="sim (default), mainnet, testnet, demo or a base URL")
    parser.add_argument("--category", default="linear", choices=[e for e in ENDPOINTS if e != "trade"],
                        help="socket the topics live on (default linear)")
    parser.add_argument("--count", type=int, default=None, help="stop after this many events/frames")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")


def add_tail_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rxbybit tail``."""
    parser.add_argument("topic", help="e.g. orderbook.50.BTCUSDT, publicTrade.BTCUSDT, tickers.ETHUSDT")
    _common(parser)


def add_record_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rxbybit record``."""
    parser.add_argument("topics", nargs="+", help="topics to record (all on one --category socket)")
    parser.add_argument("-o", "--output", required=True, help="JSONL file (with --format parquet: a directory)")
    parser.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl",
                        help="jsonl (default) or parquet: a Hive-partitioned dataset, see docs/dataset.md")
    _common(parser)


async def _until(done: asyncio.Event, duration: float | None) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), duration)


async def tail(network: str, topic: str, category: Any, count: int | None, duration: float | None,
               out: IO[str]) -> int:
    """Print each decoded event of ``topic``; return how many were printed."""
    parse(topic, category)
    seen = 0
    done = asyncio.Event()
    async with Bybit(network) as bybit:
        def show(event: object) -> None:
            nonlocal seen
            seen += 1
            out.write(f"{event!r}\n")
            if count is not None and seen >= count:
                done.set()

        def failed(exc: Exception) -> None:
            out.write(f"error: {exc}\n")
            done.set()

        sub = bybit.topic(topic, category).subscribe(show, failed)
        await _until(done, duration)
        sub.dispose()
    return seen


async def record(network: str, topics: list[str], category: Any, path: str, count: int | None,
                 duration: float | None, fmt: str = "jsonl") -> int:
    """Write every raw frame of ``topics`` to ``path`` as JSONL (or a Parquet dataset); return how many."""
    for t in topics:
        parse(t, category)
    written = 0
    done = asyncio.Event()
    url_path = ENDPOINT_PATHS[category]
    if fmt == "parquet":
        from .recordings import DatasetWriter  # pyarrow is loaded only for datasets
    with open(path, "w", encoding="utf-8") if fmt == "jsonl" else DatasetWriter(path) as fh:
        async with Bybit(network) as bybit:
            def write(frame: str | bytes) -> None:
                nonlocal written
                if isinstance(fh, io.TextIOBase):
                    text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
                    fh.write(dumps({"t": time.time(), "path": url_path, "frame": text}) + "\n")
                elif not fh.write(url_path, frame, time.time()):  # a dataset skips control frames
                    return
                written += 1
                if count is not None and written >= count:
                    done.set()

            tap = bybit.frames(category).subscribe(write)
            subs = [bybit.topic(t, category).subscribe(lambda e: None, lambda exc: done.set()) for t in topics]
            await _until(done, duration)
            for s in subs:
                s.dispose()
            tap.dispose()
    return written


def run_tail(args: argparse.Namespace) -> int:
    """Entry of ``rxbybit tail``."""
    n = run(tail(args.network, args.topic, args.category, args.count, args.duration, sys.stdout))
    return 0 if n else 1


def run_record(args: argparse.Namespace) -> int:
    """Entry of ``rxbybit record``."""
    n = run(record(args.network, args.topics, args.category, args.output, args.count, args.duration, args.format))
    print(f"wrote {n} frames to {args.output}", file=sys.stderr)
    return 0 if n else 1
