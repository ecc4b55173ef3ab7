"""``python -m rxbybit.gateway.bus_demo`` (``make replicas``): the one-command replica set starts its own
redis-server, simulator and replicas, serves books on every replica, and stops them all."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from pathlib import Path

from helpers import scaled
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[2]


def _two_free_ports() -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two consecutive free ports")


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
    except OSError:
        return True
    return False


async def test_the_demo_runs_a_replica_set_and_stops_all_of_it() -> None:
    port = _two_free_ports()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rxbybit.gateway.bus_demo", "--replicas", "2", "--port", str(port),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or "Ctrl-C" not in lines[-1]:
            lines.append((await asyncio.wait_for(proc.stdout.readline(), scaled(60))).decode())
            assert lines[-1], f"the demo ended early: {lines}"
        text = "".join(lines)
        assert "SIMULATED" in text and f"ws://127.0.0.1:{port + 1}/ws" in text
        for p in (port, port + 1):
            async with connect(f"ws://127.0.0.1:{p}/ws") as ws:
                await ws.send(json.dumps({"path": "/external", "payload": {
                    "direction": "linear", "op": "subscribe", "args": ["orderbook.50.BTCUSDT"]}}))
                kinds = []
                while len(kinds) < 3:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), scaled(15)))
                    if msg["type"] == "event":
                        kinds.append(msg["data"]["type"])
                assert kinds[0] == "snapshot" and kinds[1:] == ["delta", "delta"], kinds
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), scaled(30)) == 130
        assert _refused(port) and _refused(port + 1)
    finally:
        if proc.returncode is None:  # SIGTERM first: the demo stops what it started
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), scaled(30))
        if proc.returncode is None:
            proc.kill()
            with contextlib.suppress(Exception):
                await proc.wait()
