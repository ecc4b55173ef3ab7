"""``python -m rxbybit.gateway.bus_demo``: a gateway replica set on this machine, in one command.

Starts a throwaway Debian ``redis-server`` on a free loopback port (unless ``--bus`` names one),
the exchange simulator, and ``--replicas`` gateway processes (``rxbybit gateway --bus ...``) on
consecutive ports from ``--port``. Connect browsers or clients to any of them; kill one (the
first is the leader) and watch another take over. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def local_redis() -> Iterator[str]:
    """A redis-server on 127.0.0.1 for as long as the block runs; yields its URL."""
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is missing: apt-get install redis-server (or pass --bus redis://HOST:PORT)")
    with tempfile.TemporaryDirectory() as workdir:
        port = _free_port()
        proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                 "no", "--dir", workdir, "--loglevel", "warning"], stdout=subprocess.DEVNULL)
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(10)


async def _run(args: argparse.Namespace, bus: str) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs: list[asyncio.subprocess.Process] = []
    drains: list[asyncio.Task[None]] = []
    try:
        sim = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "rxbybit.cli", "sim", "--port", "0", "--seed", str(args.seed),
            stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL, env=env)
        procs.append(sim)
        assert sim.stdout is not None
        line = (await asyncio.wait_for(sim.stdout.readline(), 60)).decode()
        if " at ws://" not in line:
            raise SystemExit(f"the simulator did not start: {line!r}")
        sim_url = line.rsplit(" at ", 1)[1].split()[0]
        with tempfile.TemporaryDirectory() as tmp:
            replicas = []
            for i in range(args.replicas):
                cmd = [sys.executable, "-m", "rxbybit.cli", "gateway", "--port", str(args.port + i),
                       "--network", sim_url, "--bus", bus, "--db", os.path.join(tmp, f"users-{i}.db")]
                replica = await asyncio.create_subprocess_exec(*cmd, env=env, stdout=asyncio.subprocess.PIPE)
                replicas.append(replica)
                procs.append(replica)
                assert replica.stdout is not None
                ready = (await asyncio.wait_for(replica.stdout.readline(), 60)).decode()
                if "gateway on " not in ready:
                    raise SystemExit(f"replica {i} did not start: {ready!r}")
                drains.append(asyncio.get_running_loop().create_task(_drain(replica.stdout)))
                if i == 0:
                    await asyncio.sleep(1.0)  # let the first take the lead, so 'the first is the leader' holds
            print(f"bus {bus}; simulator {sim_url} (SIMULATED market data)", flush=True)
            for i, p in enumerate(replicas):
                print(f"replica {i}: ws://127.0.0.1:{args.port + i}/ws  pid {p.pid}"
                      + ("  (leader at start)" if i == 0 else ""), flush=True)
            print("Ctrl-C stops everything.", flush=True)
            await asyncio.gather(*(p.wait() for p in replicas))
    finally:
        for p in reversed(procs):
            if p.returncode is None:
                p.terminate()
        for p in procs:
            with contextlib.suppress(ProcessLookupError, TimeoutError):
                await asyncio.wait_for(p.wait(), 10)
        for d in drains:
            d.cancel()


async def _drain(stream: asyncio.StreamReader) -> None:
    """Pass a replica's output on (and keep its pipe from filling)."""
    while line := await stream.readline():
        sys.stdout.write(line.decode(errors="replace"))


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m rxbybit.gateway.bus_demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--port", type=int, default=8700, help="port of the first replica (default 8700)")
    parser.add_argument("--bus", default=None, help="an existing Redis (default: start a throwaway one)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # stop the children too, as Ctrl-C does

    signal.signal(signal.SIGTERM, on_term)
    try:
        if args.bus:
            asyncio.run(_run(args, args.bus))
        else:
            with local_redis() as bus:
                asyncio.run(_run(args, bus))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
