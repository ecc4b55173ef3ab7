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
from .protocol.topics import parse
from .sim.replay import recording_line

NETWORKS = ("sim", "mainnet", "testnet", "demo")


def usage_error(command: str, message: str) -> int:
    """Print one line naming what was wrong (``rxbybit COMMAND: error: ...``); returns exit status 2."""
    print(f"rxbybit {command}: error: {message}", file=sys.stderr)
    return 2


def network_arg(value: str) -> str:
    """An argparse type: a network name or a ``ws://``/``wss://`` base URL."""
    if value in NETWORKS or value.startswith(("ws://", "wss://")):
        return value
    raise argparse.ArgumentTypeError(
        f"unknown network {value!r}: use {', '.join(NETWORKS)} or a base URL such as ws://127.0.0.1:8765")


def positive_float(value: str) -> float:
    """An argparse type: a number above zero."""
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be above 0")
    return x


def positive_int(value: str) -> int:
    """An argparse type: a whole number above zero."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least 1")
    return n


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network", type=network_arg, default=os.environ.get("RXBYBIT_NETWORK", "sim"),
                        help="sim (default), mainnet, testnet, demo or a base URL ws://host:port")
    parser.add_argument("--category", default="linear", choices=[e for e in ENDPOINTS if e != "trade"],
                        help="socket the topics live on (default linear)")
    parser.add_argument("--count", type=positive_int, default=None, help="stop after this many events/frames")
    parser.add_argument("--duration", type=positive_float, default=None, help="stop after this many seconds")


def add_tail_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rxbybit tail``."""
    parser.add_argument("topic", help="e.g. publicTrade.BTCUSDT (also orderbook.50.BTCUSDT, tickers.ETHUSDT, "
                                      "kline.1.BTCUSDT)")
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
                    fh.write(recording_line(url_path, frame))
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


def _check_topics(command: str, topics: list[str], category: Any) -> str | None:
    for t in topics:
        try:
            parse(t, category)
        except ValueError as exc:
            return f"{exc} (example: rxbybit {command} publicTrade.BTCUSDT)"
    return None


def run_tail(args: argparse.Namespace) -> int:
    """Entry of ``rxbybit tail``."""
    problem = _check_topics("tail", [args.topic], args.category)
    if problem:
        return usage_error("tail", problem)
    n = run(tail(args.network, args.topic, args.category, args.count, args.duration, sys.stdout))
    return 0 if n else 1


def run_record(args: argparse.Namespace) -> int:
    """Entry of ``rxbybit record``."""
    problem = _check_topics("record", args.topics, args.category)
    if problem:
        return usage_error("record", problem)
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        return usage_error("record", f"-o {args.output}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (args.format == "jsonl" and os.path.isdir(args.output)):
        return usage_error("record", f"-o {args.output}: cannot write a file there")
    n = run(record(args.network, args.topics, args.category, args.output, args.count, args.duration, args.format))
    print(f"wrote {n} frames to {args.output}", file=sys.stderr)
    return 0 if n else 1
