"""Benchmark: frames per second the simulator pushes to 1 and to 100 subscribers on loopback.

The simulator runs in this process; the subscribers run in a child process and only count
frames with a minimal websocket reader (raw sockets, no JSON), so the number measures the
simulator: market change, delta, encoding, one wire frame built per push and written to every
subscriber. Bounded: a fixed number of book deltas per case, at most 60 s each.

    .venv/bin/python bench/bench_sim.py [--deltas 50000] [--deltas-100 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing as mp
import os
import selectors
import socket
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import record

from rxbybit.sim import Simulator

TOPIC = "orderbook.50.BTCUSDT"
TARGET_ONE = 100_000
"""Issue 15: at least this many frames/s to one subscriber from one process."""


def _handshake(host: str, port: int, path: str) -> tuple[socket.socket, bytearray]:
    sock = socket.create_connection((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    buf = bytearray()
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed during the handshake")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise ConnectionError(head.decode(errors="replace"))
    return sock, bytearray(rest)


def _masked_text(payload: bytes) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    head = bytes((0x81, 0x80 | n)) if n < 126 else bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _count(buf: bytearray) -> int:
    """Drop every complete frame from the front of ``buf``; return how many there were."""
    i, n, size = 0, 0, len(buf)
    while size - i >= 2:
        ln = buf[i + 1] & 0x7F
        h = 2
        if ln == 126:
            if size - i < 4:
                break
            ln, h = int.from_bytes(buf[i + 2:i + 4], "big"), 4
        elif ln == 127:
            if size - i < 10:
                break
            ln, h = int.from_bytes(buf[i + 2:i + 10], "big"), 10
        if size - i < h + ln:
            break
        i += h + ln
        n += 1
    del buf[:i]
    return n


def reader(url: str, subscribers: int, frames: int, pipe: Connection) -> None:
    """Child process: subscribe ``subscribers`` sockets, say ready, count ``frames`` on each, say when."""
    u = urlparse(url)
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(subscribers):
        sock, buf = _handshake(u.hostname or "127.0.0.1", u.port or 80, "/v5/public/linear")
        sock.sendall(_masked_text(b'{"op":"subscribe","args":["' + TOPIC.encode() + b'"]}'))
        got = _count(buf)
        while got < 2:  # the ack and the snapshot
            buf += sock.recv(1 << 20)
            got += _count(buf)
        sock.setblocking(False)
        state = [buf, got - 2]
        sel.register(sock, selectors.EVENT_READ, state)
        socks.append(sock)
    pipe.send("ready")
    left = subscribers
    deadline = time.monotonic() + 90
    while left and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            state = key.data
            try:
                chunk = key.fileobj.recv(1 << 20)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            state[0] += chunk
            before = state[1]
            state[1] += _count(state[0])
            if before < frames <= state[1]:
                left -= 1
    pipe.send(("done", left))
    pipe.recv()
    for s in socks:
        s.close()


async def run_case(subscribers: int, deltas: int) -> tuple[float, float]:
    """Frames/s each subscriber received while ``deltas`` book deltas were pushed, and frames per
    second of the simulator process's own CPU time (what a busy machine moves least)."""
    ctx = mp.get_context("spawn")
    async with Simulator(seed=0, symbols=("BTCUSDT",), speed=0.001) as sim:  # background market nearly idle
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=reader, args=(sim.url, subscribers, deltas, child), daemon=True)
        proc.start()
        try:
            assert await asyncio.to_thread(parent.recv) == "ready"
            t0 = time.perf_counter()
            c0 = time.process_time()
            async with asyncio.timeout(60):
                sent = await sim.burst("linear", TOPIC, n=deltas)
                done = asyncio.create_task(asyncio.to_thread(parent.recv))
                while not done.done():  # keep the loop turning so the last frames are written
                    await asyncio.sleep(0.001)
                _status, missing = done.result()
            elapsed = time.perf_counter() - t0
            cpu = time.process_time() - c0
            assert sent == deltas and missing == 0, (sent, deltas, missing)
            parent.send("bye")
        finally:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
    return deltas / elapsed, deltas / cpu


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deltas", type=int, default=50_000, help="deltas pushed to 1 subscriber")
    parser.add_argument("--deltas-100", type=int, default=3_000, help="deltas pushed to 100 subscribers")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both cases, best kept")
    parser.add_argument("--results", default=None, help="append headline ratios as JSON lines to this file")
    args = parser.parse_args()
    one = each = one_cpu = each_cpu = 0.0
    for _ in range(args.rounds):
        wall, cpu = await run_case(1, args.deltas)
        one, one_cpu = max(one, wall), max(one_cpu, cpu)
        wall, cpu = await run_case(100, args.deltas_100)
        each, each_cpu = max(each, wall), max(each_cpu, cpu)
    print(f"simulator push, {TOPIC} deltas over loopback (SIMULATED data), best of {args.rounds} rounds;")
    print("wall: frames/s each subscriber received; cpu: frames per second of the simulator process's CPU time")
    print(f"  1 subscriber   : wall {one:>9,.0f} frames/s, cpu {one_cpu:>9,.0f} frames/s "
          f"(target >= {TARGET_ONE:,}: wall {'met' if one >= TARGET_ONE else 'NOT met'}, "
          f"cpu {'met' if one_cpu >= TARGET_ONE else 'NOT met'})")
    print(f"  100 subscribers: wall {each:>9,.0f} frames/s each ({each * 100:,.0f} delivered in total), "
          f"cpu {each_cpu:>9,.0f} pushes/s ({each_cpu * 100:,.0f} frames)")
    record(args.results, "sim", "1 subscriber: frames/s (wall) / 100,000", one / TARGET_ONE, "x", target=1.0)
    record(args.results, "sim", "1 subscriber: frames per sim CPU-second / 100,000", one_cpu / TARGET_ONE, "x",
           target=1.0)
    record(args.results, "sim", "100 subscribers: frames delivered / 1-subscriber frames (wall)", each * 100 / one,
           "x")


if __name__ == "__main__":
    asyncio.run(main())
