"""Benchmark: 1,000 clients on one topic through one gateway vs three gateway replicas on Redis.

A script, not a test. In one run, on loopback, with the same simulator (``orderbook.50.BTCUSDT``,
50 msgs/s at ``--speed 1``) and the same number of clients:

* ``one``: one ``rxbybit gateway`` process, no bus (the baseline);
* ``one+bus``: one replica with ``--bus`` (the Redis hop alone);
* ``three``: three replicas with ``--bus``, the clients spread evenly across them.

Every gateway is its own process (``rxbybit gateway --network <sim> [--bus redis://...]``), as
are the simulator, Debian's ``redis-server`` (a throwaway one on a free loopback port) and the
clients (``bench_gateway``'s minimal RFC 6455 readers). Latency is client receive time minus the
frame's exchange ``ts`` (corrected by the simulator's clock offset), so the bus's added latency is
``three`` or ``one+bus`` p99 minus ``one`` p99. Also printed: msgs/s per client and the gateways'
CPU time per delivered message (from /proc).

Run: ``.venv/bin/python bench/bench_replicas.py [--clients 1000] [--seconds 10] [--warmup 2]``.
Bounded: every phase has a deadline; every process it starts is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from bench_gateway import TOPIC, _raise_fd_limit, _Reader  # noqa: E402
from redis_server import redis_server  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


# --------------------------------------------------------------------------- clients (child process)


async def clients_main(urls: list[str], n: int, warmup: float, seconds: float, offset_ms: float) -> dict[str, Any]:
    _raise_fd_limit()
    subscribe = json.dumps({"path": "/external", "payload": {"direction": "linear", "op": "subscribe",
                                                              "args": [TOPIC]}})
    lat: list[float] = []
    window = [float("inf"), float("inf")]
    received = [0]

    def on_frames(now: float, stamps: list[int]) -> None:
        received[0] += len(stamps)
        if window[0] <= now < window[1]:
            lat.extend(now - offset_ms - ts for ts in stamps)

    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(64)
    readers: list[_Reader] = []

    async def open_one(url: str) -> None:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        async with gate:
            _, reader = await loop.create_connection(lambda: _Reader(f"{host}:{port}", parts.path or "/", subscribe,
                                                                     on_frames), host, port)
            await asyncio.wait_for(reader.ready, 30)
            readers.append(reader)

    await asyncio.wait_for(asyncio.gather(*(open_one(urls[i % len(urls)]) for i in range(n))), 120)
    window[0] = time.time() * 1000 + warmup * 1000
    window[1] = window[0] + seconds * 1000
    await asyncio.sleep(warmup + seconds + 0.2)  # the measuring window itself
    for r in readers:
        if r.transport is not None:
            r.transport.abort()
    lat.sort()

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

    return {"messages": len(lat), "received": received[0], "per_client": len(lat) / seconds / n,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": lat[-1] if lat else float("nan"),
            "mean_ms": statistics.fmean(lat) if lat else float("nan")}


# --------------------------------------------------------------------------- orchestration (parent)


async def start_gateway(sim_url: str, bus: str | None, db: str) -> tuple[asyncio.subprocess.Process, str]:
    cmd = [sys.executable, "-m", "rxbybit.cli", "gateway", "--port", "0", "--network", sim_url, "--db", db,
           "--symbols", "linear:BTCUSDT", "--max-connections-per-address", "100000"]  # every client is on loopback
    if bus:
        cmd += ["--bus", bus]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, env=env)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
    if "gateway on " not in line:
        proc.kill()
        raise SystemExit(f"the gateway did not start: {line!r}")
    return proc, line.split("gateway on ", 1)[1].split()[0].rstrip(";")


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def phase(name: str, sim_url: str, bus: str | None, replicas: int, args: argparse.Namespace,
                tmp: str) -> dict[str, Any]:
    gateways = []
    try:
        for i in range(replicas):
            gateways.append(await start_gateway(sim_url, bus, f"{tmp}/users-{name}-{i}.db"))
            if i == 0 and bus:
                await asyncio.sleep(1.0)  # the first replica takes the lead (a settling pause, not a handshake)
        print(f"{name}: {args.clients} clients over {replicas} gateway(s) for {args.seconds:g} s...",
              file=sys.stderr, flush=True)
        cpu0 = sum(cpu_seconds(p.pid) for p, _ in gateways)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--role", "clients", "--urls", ",".join(u for _, u in gateways),
            "--clients", str(args.clients), "--seconds", str(args.seconds), "--warmup", str(args.warmup),
            "--offset-ms", str(args.offset_ms), stdout=asyncio.subprocess.PIPE)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 180 + args.seconds + args.warmup)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise SystemExit(f"{name}: the client process overran its deadline") from None
        result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        result["cpu_s"] = sum(cpu_seconds(p.pid) for p, _ in gateways) - cpu0
        result["name"] = name
        return result
    finally:
        for p, _ in gateways:
            await stop(p)


async def failover(sim_url: str, bus: str, tmp: str, run: int) -> dict[str, float]:
    """Three replicas, a client on the third watching the book; kill -9 the leader (the first):
    seconds from the kill to the new leader's first book frame at the client, and the longest gap."""
    from websockets.asyncio.client import connect

    procs = []
    try:
        for i in range(3):
            procs.append(await start_gateway(sim_url, bus, f"{tmp}/fo-{run}-{i}.db"))
            if i == 0:
                await asyncio.sleep(1.0)  # the first takes the lead (a settling pause, not a handshake)
        async with connect(procs[2][1]) as ws:
            await ws.send(json.dumps({"path": "/external", "payload": {"direction": "linear", "op": "subscribe",
                                                                        "args": [TOPIC]}}))
            deadline = time.monotonic() + 30
            got = 0
            while got < 20 and time.monotonic() < deadline:  # the stream flows
                got += '"event"' in str(await asyncio.wait_for(ws.recv(), 10))
            procs[0][0].kill()
            killed = time.monotonic()
            last, gap, first_snapshot = killed, 0.0, None
            while time.monotonic() < killed + 15:
                msg = await asyncio.wait_for(ws.recv(), 15)
                now = time.monotonic()
                if '"event"' not in str(msg):
                    continue
                gap, last = max(gap, now - last), now
                if first_snapshot is None and '"snapshot"' in str(msg):
                    first_snapshot = now - killed
                if first_snapshot is not None and now - killed > first_snapshot + 1:
                    break
        return {"to_snapshot_s": first_snapshot if first_snapshot is not None else float("nan"), "gap_s": gap}
    finally:
        for p, _ in procs:
            await stop(p)


async def orchestrate(args: argparse.Namespace) -> None:
    _raise_fd_limit()
    budget = 4 * args.rounds * (180 + args.seconds + args.warmup)
    sim = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "bench_gateway.py"), "--role", "sim", "--speed", str(args.speed),
        "--seconds", str(budget), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    results: list[dict[str, Any]] = []
    fails: list[dict[str, float]] = []
    try:
        assert sim.stdout is not None
        info = json.loads(await asyncio.wait_for(sim.stdout.readline(), 30))
        args.offset_ms = info["offset_ms"]
        with redis_server() as bus, tempfile.TemporaryDirectory() as tmp:
            setups = [("one", False, 1), ("one+bus", True, 1), ("three", True, 3)]
            for r in range(args.rounds):  # alternate, so a busy spell of the machine hits every setup
                for name, use_bus, n in setups if r % 2 == 0 else setups[::-1]:
                    results.append(await phase(name, info["url"], bus if use_bus else None, n, args, tmp))
                    await asyncio.sleep(1.0)  # let the previous phase's sockets drain
            fails = []
            for run in range(args.failovers):
                with redis_server() as fresh:  # a clean lock for every run
                    fails.append(await failover(info["url"], fresh, tmp, run))
    finally:
        if sim.stdin is not None:
            sim.stdin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sim.wait(), 10)
        if sim.returncode is None:
            sim.kill()
            await sim.wait()
    print(f"\n{TOPIC} (simulator speed {args.speed:g}) to {args.clients} clients on loopback, {args.seconds:g} s "
          "measured; simulator, redis-server, each gateway and the clients in their own processes")
    print(f"{'setup':<9} {'per client':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'CPU us/msg':>11}")
    for r in results:
        print(f"{r['name']:<9} {r['per_client']:>10.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['max_ms']:>8.1f} "
              f"{r['cpu_s'] * 1e6 / max(r['received'], 1):>11.1f}")
    def median(name: str, field: str) -> float:
        return statistics.median(r[field] for r in results if r["name"] == name)

    for name in ("one+bus", "three"):
        added = median(name, "p99_ms") - median("one", "p99_ms")
        print(f"{name} vs one (medians of {args.rounds} rounds): p99 {added:+.1f} ms "
              f"(x{median(name, 'p99_ms') / median('one', 'p99_ms'):.2f}), "
              f"p50 {median(name, 'p50_ms') - median('one', 'p50_ms'):+.1f} ms, per client "
              f"{median(name, 'per_client'):.1f} vs {median('one', 'per_client'):.1f} msgs/s")
        if args.results:  # the one table of `make bench` (bench/run_all.py)
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from _report import record

            what = f"{name} vs one gateway: p99 added ({args.clients:,} clients)"
            record(args.results, "replicas", what, added, "ms", higher_is_better=False)


    if fails:
        print(f"fail-over (kill -9 of the leader, {len(fails)} runs): new leader's first book snapshot at the "
              "client after " + ", ".join(f"{f['to_snapshot_s']:.2f}" for f in fails) + " s; longest gap "
              + ", ".join(f"{f['gap_s']:.2f}" for f in fails) + " s (lock TTL 3 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2, help="cycles through the three setups (order alternates)")
    parser.add_argument("--failovers", type=int, default=3, help="kill -9 the leader this many times, timing it")
    parser.add_argument("--results", default=None, help="append headline ratios as JSON lines to this file")
    parser.add_argument("--role", choices=("main", "clients"), default="main", help=argparse.SUPPRESS)
    parser.add_argument("--urls", help=argparse.SUPPRESS)
    parser.add_argument("--offset-ms", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients < 1 or args.seconds <= 0:
        parser.error("--clients must be at least 1 and --seconds positive")
    if args.role == "clients":
        result = asyncio.run(clients_main(args.urls.split(","), args.clients, args.warmup, args.seconds,
                                          args.offset_ms))
        print(json.dumps(result), flush=True)
    else:
        asyncio.run(orchestrate(args))


if __name__ == "__main__":
    main()
