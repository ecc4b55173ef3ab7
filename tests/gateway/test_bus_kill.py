"""Kill -9 the leader: three ``rxbybit gateway --bus`` processes on a real redis-server; the leader
process is killed without a word, another takes over, and clients of the others keep their
subscriptions with books that resync from a fresh snapshot."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from helpers import eventually, scaled
from redis_server import redis_server
from websockets.asyncio.client import connect

from rxbybit.sim import Simulator

from .bus_helpers import BOOK, BOOK_PATH, TICKER, TICKER_PATH, assert_books_unbroken, book_events, eventually_async
from .conftest import Client

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


async def _replica(sim: Simulator, bus: str, db: Path) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rxbybit.cli", "gateway", "--port", "0", "--network", sim.url, "--bus", bus,
        "--db", str(db), "--symbols", "linear:BTCUSDT", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), scaled(60))).decode()
    assert "gateway on " in line, line
    return proc, line.split("gateway on ", 1)[1].split()[0].rstrip(";")


async def test_killing_the_leader_process_fails_over_and_clients_keep_their_streams(redis_url: str,
                                                                                   tmp_path: Path) -> None:
    procs: list[asyncio.subprocess.Process] = []
    clients: list[Client] = []
    spy = aioredis.from_url(redis_url)
    try:
        async with Simulator(host="127.0.0.1", port=0, seed=5, symbols=("BTCUSDT",), speed=5.0) as sim:
            leader, _ = await _replica(sim, redis_url, tmp_path / "u0.db")
            procs.append(leader)
            async def locked() -> bool:
                return bool(await spy.exists("rxbybit:leader"))

            await eventually_async(locked, 15, "the first replica to take the leader lock")
            urls = []
            for i in (1, 2):
                proc, url = await _replica(sim, redis_url, tmp_path / f"u{i}.db")
                procs.append(proc)
                urls.append(url)
            for url in urls:
                c = Client(await connect(url, max_size=2**22))
                clients.append(c)
                ack = await c.request("/external", {"direction": "linear", "op": "subscribe", "args": [BOOK, TICKER]})
                assert ack["type"] == "ack", ack
            for c in clients:
                await c.until(lambda m: m.get("path") == BOOK_PATH and m["data"]["type"] == "delta", what="deltas")
            assert len(sim.feed("linear", BOOK).subscribers) == 1

            leader.send_signal(signal.SIGKILL)
            await asyncio.wait_for(leader.wait(), scaled(10))
            marks = [len(book_events(c)) for c in clients]
            for c, mark in zip(clients, marks, strict=True):
                await c.until(lambda m, c=c, mark=mark: m.get("path") == BOOK_PATH and m["data"]["type"] == "delta"
                              and any(e["type"] == "snapshot" for e in book_events(c)[mark:]),
                              timeout=20, what="a fresh snapshot and deltas from the new leader")
                await c.until(lambda m: m.get("path") == TICKER_PATH, what="tickers from the new leader")
                assert assert_books_unbroken(c) >= 2
            await eventually(lambda: len(sim.feed("linear", BOOK).subscribers) == 1, 10,
                             "exactly one upstream subscription again")
            assert len(sim.feed("linear", TICKER).subscribers) == 1
            for c in clients:
                with contextlib.suppress(Exception):
                    await c.close()
            clients.clear()
            await eventually(lambda: len(sim.feed("linear", BOOK).subscribers) == 0, 15,
                             "the upstream book to go with the last client")
    finally:
        for c in clients:
            with contextlib.suppress(Exception):
                await c.close()
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
        await spy.aclose()
