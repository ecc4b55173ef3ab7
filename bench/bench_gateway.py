"""Benchmark: one topic fanned out to many gateway clients on loopback, side by side with direct clients.

A script, not a test. The simulator publishes ``orderbook.50.BTCUSDT`` every 20 ms (50 msgs/s at
``--speed 1``). In one run it measures, with the same number of clients:

* ``direct``: ``--clients`` websockets subscribed straight to the simulator (the floor: one hop);
* ``gateway``: ``--clients`` websockets subscribed through the gateway (``/external`` pass-through),
  which holds a single upstream subscription and fans it out.

The simulator, the gateway (this process) and the clients (minimal RFC 6455 readers) run in three
processes, so no side competes with another for one interpreter. Latency is client receive time
minus the frame's exchange ``ts``, corrected by the simulator's clock offset (measured at start;
its clock runs at wall speed at ``--speed 1``). Printed per mode: clients served, refused at the
handshake (an overloaded gateway answers HTTP 503) and never connected; delivered msgs/s, msgs/s
per client, p50/p99/max latency, and the client process's CPU time; then what the gateway adds
over direct clients, and the gateway process's CPU time per delivered message, user and system
(less sensitive to a busy machine than latency), with the peak lag of its event loop.
Target (issue 15): gateway p99 less than 50 ms above direct clients' at 50 msgs/s per client with
1,000 clients, and a 5,000-client run reported.

Run: ``.venv/bin/python bench/bench_gateway.py [--clients 1000] [--seconds 10] [--warmup 2]`` (issue 13's load test:
``--clients 500``).
Bounded: every phase has a deadline, and the child is killed if it overruns.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import statistics
import struct
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TOPIC = "orderbook.50.BTCUSDT"


# --------------------------------------------------------------------------- the client side (child process)


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class _Refused(ConnectionError):
    """The server answered the handshake with an HTTP status other than 101 (e.g. 503: overloaded)."""

    def __init__(self, status: str, body: str) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class _Reader(asyncio.Protocol):
    """A minimal RFC 6455 client that only reads: one Python websockets client per connection would
    make the client process, not the gateway, the bottleneck at 50,000 msgs/s on two cores."""

    def __init__(self, host: str, path: str, subscribe: str, on_frames: Any) -> None:
        self.host = host
        self.path = path
        self.subscribe = subscribe
        self.on_frames = on_frames
        self.buf = bytearray()
        self.upgraded = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                         f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                         ).encode())

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert self.transport is not None
        self.transport.write(head + mask + body)

    def data_received(self, data: bytes) -> None:
        now = time.time() * 1000
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[:end]).split(b"\r\n", 1)[0]
            if b" 101 " not in status:
                self.ready.set_exception(_Refused(status.decode(errors="replace"),
                                                  bytes(buf[end + 4:]).decode(errors="replace").strip()))
                return
            del buf[:end + 4]
            self.upgraded = True
            self._send(1, self.subscribe.encode())
            self.ready.set_result(None)
        stamps = []
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            opcode = buf[pos] & 0x0F
            n = buf[pos + 1] & 0x7F
            start = pos + 2
            if n == 126:
                if size - pos < 4:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 4], "big")
                start = pos + 4
            elif n == 127:
                if size - pos < 10:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 10], "big")
                start = pos + 10
            end = start + n
            if end > size:
                break
            if opcode == 1:
                i = buf.find(b'"ts":', start, end)
                if i > 0:
                    j = i + 5
                    k = j
                    while 48 <= buf[k] <= 57:
                        k += 1
                    stamps.append(int(buf[j:k]))
            elif opcode == 9:
                self._send(10, bytes(buf[start:end]))
            elif opcode == 8 and self.transport is not None:
                self.transport.close()
            pos = end
        del buf[:pos]
        if stamps:
            self.on_frames(now, stamps)


async def _clients_main(url: str, mode: str, n: int, warmup: float, seconds: float,
                        offset_ms: float) -> dict[str, Any]:
    _raise_fd_limit()
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if mode == "gateway":
        subscribe = json.dumps({"path": "/external", "payload": {"direction": "linear", "op": "subscribe",
                                                                  "args": [TOPIC]}})
    else:
        subscribe = json.dumps({"op": "subscribe", "args": [TOPIC]})
    lat: list[float] = []
    window = [float("inf"), float("inf")]  # wall-clock ms: [start, stop)
    received = [0]  # every frame, in or out of the window

    def on_frames(now: float, stamps: list[int]) -> None:
        received[0] += len(stamps)
        if window[0] <= now < window[1]:
            lat.extend(now - offset_ms - ts for ts in stamps)

    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(64)  # open connections 64 at a time
    t0 = time.monotonic()
    readers: list[_Reader] = []

    failed = [0]  # clients whose handshake did not complete: an overloaded server is reported, not a crash
    refused: list[str] = []  # clients the server refused with an HTTP status (the first reason is reported)
    handshake_s: list[float] = []  # how long each handshake took, served or refused

    async def open_one() -> None:
        async with gate:
            reader = None
            began = time.monotonic()
            try:
                _, reader = await loop.create_connection(lambda: _Reader(f"{host}:{port}", parts.path or "/",
                                                                         subscribe, on_frames), host, port)
                await asyncio.wait_for(reader.ready, 30)
                readers.append(reader)
                handshake_s.append(time.monotonic() - began)
            except _Refused as exc:
                refused.append(f"{exc.status}: {exc.body}")
                handshake_s.append(time.monotonic() - began)
                if reader is not None and reader.transport is not None:
                    reader.transport.abort()
            except (OSError, TimeoutError):
                failed[0] += 1
                if reader is not None and reader.transport is not None:
                    reader.transport.abort()

    opening = [asyncio.ensure_future(open_one()) for _ in range(n)]
    _, late = await asyncio.wait(opening, timeout=120)  # bounded: whatever has not opened by then is given up
    for task in late:
        task.cancel()
    failed[0] += len(late)
    connect_s = time.monotonic() - t0
    offered = n
    n = max(1, n - failed[0] - len(refused))  # rates per client count the clients that were served
    window[0] = time.time() * 1000 + warmup * 1000
    window[1] = window[0] + seconds * 1000
    await asyncio.sleep(warmup)
    print("window", flush=True)  # the server side reads its CPU time at these two lines
    await asyncio.sleep(seconds)
    print("window", flush=True)
    await asyncio.sleep(0.2)
    for r in readers:
        if r.transport is not None:
            r.transport.abort()
    lat.sort()
    handshake_s.sort()
    usage = resource.getrusage(resource.RUSAGE_SELF)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

    return {"mode": mode, "offered": offered, "clients": len(readers), "not_connected": failed[0],
            "refused": len(refused), "refused_reason": refused[0] if refused else "",
            "handshake_max_s": round(handshake_s[-1], 2) if handshake_s else float("nan"),
            "clients_cpu_s": usage.ru_utime + usage.ru_stime, "seconds": seconds, "messages": len(lat),
            "received": received[0],
            "msgs_per_s": len(lat) / seconds, "per_client": len(lat) / seconds / n,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": lat[-1] if lat else float("nan"),
            "mean_ms": statistics.fmean(lat) if lat else float("nan"), "connect_s": round(connect_s, 2)}


# --------------------------------------------------------------------------- the server side (parent process)


async def _phase(url: str, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--role", "clients", "--url", url, "--mode", mode, "--clients", str(args.clients),
        "--seconds", str(args.seconds), "--warmup", str(args.warmup), "--offset-ms", str(args.offset_ms),
        stdout=asyncio.subprocess.PIPE)
    marks: list[tuple[float, resource.struct_rusage]] = []  # the gateway's CPU when the window opens and closes
    lines: list[bytes] = []

    async def read() -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            if line.strip() == b"window":
                marks.append((time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)))
            else:
                lines.append(line)
        await proc.wait()

    try:
        await asyncio.wait_for(read(), 180 + args.seconds + args.warmup)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise SystemExit(f"{mode}: the client process overran its deadline and was killed") from None
    if proc.returncode != 0:
        raise SystemExit(f"{mode}: the client process failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(lines[-1].decode())
    # steady state: the measured window only, without handshakes and teardown; a saturated gateway
    # reads the two marks late, together, and then the window is not known
    if len(marks) == 2 and abs(marks[1][0] - marks[0][0] - args.seconds) < 0.2 * args.seconds:
        result["window_user_s"] = marks[1][1].ru_utime - marks[0][1].ru_utime
        result["window_sys_s"] = marks[1][1].ru_stime - marks[0][1].ru_stime
    return result


async def _clock_offset(sim: Any) -> float:
    """Wall clock minus the simulator's clock (constant at speed 1), so latency counts from the push.

    The simulator's clock advances in ticks; just after a tick the difference is smallest, so the
    minimum over a few samples is the offset."""
    samples = []
    for _ in range(50):
        samples.append(time.time() * 1000 - float(sim.now_ms()))
        await asyncio.sleep(0.004)
    return min(samples)


async def _sim_main(speed: float, max_seconds: float) -> None:
    """The exchange, in its own process: prints its URL and clock offset, serves until stdin closes."""
    _raise_fd_limit()
    from rxbybit.sim import Simulator

    async with Simulator(host="127.0.0.1", port=0, seed=1, symbols=("BTCUSDT",), speed=speed) as sim:
        await asyncio.sleep(0.3)
        print(json.dumps({"url": sim.url, "offset_ms": await _clock_offset(sim)}), flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        await asyncio.wait_for(reader.read(), max_seconds)


async def _server_main(args: argparse.Namespace) -> None:
    _raise_fd_limit()
    from rxbybit.gateway import Gateway, Limits
    from rxbybit.gateway.limits import SERVED_MAX_LOOP_LAG

    budget = 2 * (180 + args.seconds + args.warmup) + 60
    sim = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--role", "sim", "--speed", str(args.speed), "--seconds", str(budget),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    try:
        assert sim.stdout is not None
        info = json.loads(await asyncio.wait_for(sim.stdout.readline(), 30))
        args.offset_ms = info["offset_ms"]
        # every bench client comes from 127.0.0.1: the per-address connection cap must admit them all
        limits = Limits(max_buffered_bytes=8 * 2**20, max_unsent_bytes=16 * 2**20,
                        max_connections_per_address=args.clients + 16, max_loop_lag=SERVED_MAX_LOOP_LAG)
        async with Gateway(info["url"], symbols=(("linear", "BTCUSDT"),), limits=limits) as gw:
            results = []
            for mode, url in (("direct", info["url"] + "/v5/public/linear"), ("gateway", gw.url)):
                print(f"{mode}: {args.clients} clients for {args.seconds:g} s (+{args.warmup:g} s warm-up)...",
                      file=sys.stderr, flush=True)
                before = resource.getrusage(resource.RUSAGE_SELF)
                load = getattr(gw, "load", None)  # the loop-lag gauge (absent before issue 15's gateway work)
                if load is not None:
                    load.reset()
                results.append(await _phase(url, mode, args))
                after = resource.getrusage(resource.RUSAGE_SELF)
                results[-1]["gateway_user_s"] = after.ru_utime - before.ru_utime
                results[-1]["gateway_sys_s"] = after.ru_stime - before.ru_stime
                results[-1]["gateway_cpu_s"] = results[-1]["gateway_user_s"] + results[-1]["gateway_sys_s"]
                results[-1]["lag_peak_ms"] = load.peak * 1000 if load is not None else float("nan")
                results[-1]["refused_at_door"] = dict(getattr(gw, "refused", {}))
                await asyncio.sleep(1.0)  # let the previous clients' connections drain
            dropped = sum(s.dropped for s in gw.sessions)
    finally:
        if sim.stdin is not None:
            sim.stdin.close()
        try:
            await asyncio.wait_for(sim.wait(), 10)
        except TimeoutError:
            sim.kill()
            await sim.wait()
    print(f"\none topic ({TOPIC}, simulator speed {args.speed:g}) to {args.clients} clients on loopback, "
          f"{args.seconds:g} s measured; simulator, gateway and clients in three processes")
    print(f"{'mode':<8} {'served':>7} {'refused':>8} {'lost':>5} {'msgs/s':>9} {'per client':>11} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8} {'clients CPU s':>14}")
    for r in results:
        print(f"{r['mode']:<8} {r['clients']:>7} {r.get('refused', 0):>8} {r['not_connected']:>5} "
              f"{r['msgs_per_s']:>9.0f} {r['per_client']:>11.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
              f"{r['max_ms']:>8.1f} {r['clients_cpu_s']:>14.2f}")
        if r["not_connected"]:
            print(f"         {r['not_connected']} of {args.clients} clients never completed the handshake "
                  f"(30 s each, 120 s in all): the server was saturated")
        if r.get("refused"):
            print(f"         {r['refused']} of {args.clients} refused at the handshake (slowest handshake "
                  f"{r['handshake_max_s']:g} s): {r['refused_reason']}")
    d, g = results
    if args.speed != 1:
        print("note: latency is measured against the simulator's clock, which runs at wall speed only at "
              "--speed 1; at other speeds only the msgs/s columns mean anything")
    print(f"gateway - direct: p50 {g['p50_ms'] - d['p50_ms']:+.1f} ms, p99 {g['p99_ms'] - d['p99_ms']:+.1f} ms added; "
          f"gateway/direct throughput x{g['msgs_per_s'] / max(d['msgs_per_s'], 1e-9):.2f}; "
          f"events dropped for slow clients: {dropped}")
    per_msg = 1e6 / max(g["received"], 1)
    print(f"gateway CPU: {g['gateway_cpu_s']:.2f} s in the gateway phase (user {g['gateway_user_s']:.2f}, "
          f"system {g['gateway_sys_s']:.2f}), {g['gateway_cpu_s'] * per_msg:.1f} us per message its clients "
          f"received (user {g['gateway_user_s'] * per_msg:.1f}, system {g['gateway_sys_s'] * per_msg:.1f}); "
          f"event-loop lag peak {g['lag_peak_ms']:.0f} ms")
    if "window_user_s" in g:
        per_window = 1e6 / max(g["messages"], 1)
        print(f"  in the measured window alone (no handshakes, no teardown): "
              f"{(g['window_user_s'] + g['window_sys_s']) * per_window:.1f} us per delivered message "
              f"(user {g['window_user_s'] * per_window:.1f}, system {g['window_sys_s'] * per_window:.1f})")
    verdict = "meets" if g["p99_ms"] - d["p99_ms"] < 50 and g["per_client"] >= 0.9 * 50 * args.speed else "misses"
    print(f"target (gateway p99 < 50 ms added over direct clients, at 50 msgs/s per client): {verdict} "
          f"(p99 {g['p99_ms']:.1f} ms vs {d['p99_ms']:.1f} ms direct, {g['per_client']:.1f} msgs/s per served "
          f"client; the simulator publishes {d['per_client']:.1f} msgs/s to direct clients)")
    if args.results:  # the one table of `make bench` (bench/run_all.py)
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _report import record

        n = args.clients
        record(args.results, "gateway", f"{n:,} clients: p99 added over direct clients", g["p99_ms"] - d["p99_ms"],
               "ms", target=50.0, higher_is_better=False)
        ratio = g["msgs_per_s"] / max(d["msgs_per_s"], 1e-9)
        record(args.results, "gateway", f"{n:,} clients: gateway / direct msgs/s", ratio, "x")
        steady = ((g["window_user_s"] + g["window_sys_s"]) * 1e6 / max(g["messages"], 1) if "window_user_s" in g
                  else g["gateway_cpu_s"] * per_msg)
        record(args.results, "gateway", f"{n:,} clients: gateway CPU us per delivered message", steady, "us",
               higher_is_better=False)
        record(args.results, "gateway", f"{n:,} clients: served / offered", g["clients"] / max(n, 1), "x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--speed", type=float, default=1.0, help="simulator speed (1: 50 msgs/s on orderbook.50)")
    parser.add_argument("--results", default=None, help="append headline ratios as JSON lines to this file")
    parser.add_argument("--role", choices=("server", "clients", "sim"), default="server", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("direct", "gateway"), help=argparse.SUPPRESS)
    parser.add_argument("--offset-ms", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients < 1 or args.seconds <= 0:
        parser.error("--clients must be at least 1 and --seconds positive")
    if args.role == "sim":
        asyncio.run(_sim_main(args.speed, args.seconds))
    elif args.role == "clients":
        result = asyncio.run(_clients_main(args.url, args.mode, args.clients, args.warmup, args.seconds,
                                           args.offset_ms))
        print(json.dumps(result), flush=True)
    else:
        asyncio.run(_server_main(args))


if __name__ == "__main__":
    main()
