"""``rxbybit sim``: serve the simulated exchange (or a recording) on loopback from the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shlex
import sys
from typing import Final

from .accounts import DEMO_API_KEY, DEMO_API_SECRET
from .replay import ReplayServer
from .server import DATA_BEFORE_ACK, DEFAULT_SYMBOLS, Simulator

PROMPT_HELP: Final = """fault commands (type them while the simulator runs):
  drop [PATH]                     abort connections (no close frame)
  silent [PATH] on|off            stop/resume answering pings
  gap CATEGORY TOPIC              next delta of TOPIC skips a u (e.g. gap linear orderbook.50.BTCUSDT)
  restart-book CATEGORY SYMBOL    resend every depth of the book as a u == 1 snapshot
  malformed [PATH]                send a broken (non-JSON) frame
  stall PATH SECONDS              hold all output of matching connections for a while
  reject TOPIC [MESSAGE]          reject the next subscribe of TOPIC
  idle PATH SECONDS               close connections idle for SECONDS
  restart                         restart the whole server on the same port
  deny-trade [N]                  answer the next N trade requests with the reqId-less 10005
  trade-restarting on|off         new trade requests get 10019 while on
  trade-sessions N|off            at most N trade sockets per account (one more auth: 10003)
  clear                           switch standing faults off
  help | quit"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rxbybit sim``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "Everything served is SIMULATED (seeded market model, paper accounts).\n"
        f"Demo account: key {DEMO_API_KEY}  secret {DEMO_API_SECRET}\n\n" + PROMPT_HELP
        + "\n\n--fault-every N injects one random fault (drop, gap, restart-book, malformed, stall) every N s."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 = any free port)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the market model (default 0)")
    parser.add_argument("--symbols", default=",".join(DEFAULT_SYMBOLS),
                        help="comma-separated linear symbols, e.g. BTCUSDT,ETHUSDT (spot, inverse and options "
                             "are derived from them)")
    parser.add_argument("--speed", type=float, default=1.0, help="time multiplier for every push cadence")
    parser.add_argument("--data-before-ack", type=float, default=DATA_BEFORE_ACK, metavar="SHARE",
                        help=f"share of public subscribes whose data comes before the ack, picked by the seed "
                             f"(default {DATA_BEFORE_ACK}; 0 turns it off)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="hold every frame this long (default 0)")
    parser.add_argument("--replay", metavar="FILE.jsonl", help="serve a recording instead of the market model")
    parser.add_argument("--fault-every", type=float, metavar="SECONDS",
                        help="inject a random fault every SECONDS (bounded: one fault at a time)")
    parser.add_argument("--no-prompt", action="store_true", help="do not read fault commands from stdin")


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; returns the exit code."""
    symbols = tuple(s.strip() for s in str(args.symbols).split(",") if s.strip())
    if args.replay and not os.path.isfile(args.replay):
        print(f"rxbybit sim: error: --replay {args.replay}: no such recording file (give a JSONL file "
              "written by 'rxbybit record')", file=sys.stderr)
        return 2
    try:
        if args.replay:
            return asyncio.run(_replay(args))
        return asyncio.run(_serve(args, symbols))
    except ValueError as exc:
        print(f"rxbybit sim: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"rxbybit sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1


async def _replay(args: argparse.Namespace) -> int:
    async with ReplayServer(args.replay, args.host, args.port, speed=args.speed) as server:
        print(f"rxbybit sim: REPLAYING recorded frames from {args.replay} at {server.url} (speed {args.speed})")
        await asyncio.Event().wait()
    return 0


async def _serve(args: argparse.Namespace, symbols: tuple[str, ...]) -> int:
    sim = Simulator(args.host, args.port, seed=args.seed, symbols=symbols, speed=args.speed,
                    data_before_ack=args.data_before_ack, latency_ms=args.latency_ms)
    async with sim:
        print(f"rxbybit sim: SIMULATED Bybit exchange (not market data) at {sim.url}")
        print(f"  public:  {sim.url}/v5/public/{{spot,linear,inverse,option}}   legacy: {sim.url}/spot/public/v3")
        print(f"  private: {sim.url}/v5/private   trade: {sim.url}/v5/trade")
        print(f"  demo account (paper money): api_key={DEMO_API_KEY} api_secret={DEMO_API_SECRET}")
        print(f"  symbols: {', '.join(symbols)}  seed={args.seed}  speed={args.speed}")
        tasks = []
        if args.fault_every:
            tasks.append(asyncio.create_task(_fault_loop(sim, float(args.fault_every), symbols[0])))
        if not args.no_prompt and sys.stdin is not None and sys.stdin.isatty():
            print("  type 'help' for fault commands")
            tasks.append(asyncio.create_task(_prompt(sim)))
        try:
            await asyncio.Event().wait()
        finally:
            for t in tasks:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t
    return 0


async def _fault_loop(sim: Simulator, every: float, symbol: str) -> None:
    if every <= 0:
        raise ValueError("--fault-every must be positive")
    rng = random.Random(sim.seed)
    while True:
        await asyncio.sleep(every)
        kind = rng.choice(["drop", "gap", "restart-book", "malformed", "stall"])
        command = {"gap": f"gap linear orderbook.50.{symbol}", "restart-book": f"restart-book linear {symbol}"}
        print(f"rxbybit sim: fault: {await apply_command(sim, command.get(kind, kind), default_stall=1.0)}")


async def _prompt(sim: Simulator) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        try:
            print(await apply_command(sim, line))
        except (ValueError, KeyError) as exc:
            print(f"error: {exc}")


async def apply_command(sim: Simulator, line: str, default_stall: float = 2.0) -> str:
    """Run one fault command (see ``rxbybit sim --help``); returns what it did."""
    words = shlex.split(line)
    if not words:
        return ""
    cmd, rest = words[0], words[1:]
    f = sim.faults
    if cmd == "help":
        return PROMPT_HELP
    if cmd == "quit":
        raise KeyboardInterrupt
    if cmd == "drop":
        return f"dropped {await f.drop_connections(rest[0] if rest else None)} connection(s)"
    if cmd == "silent":
        on = (rest[-1] if rest else "on") != "off"
        path = rest[0] if rest and rest[0] not in ("on", "off") else None
        return f"silent={on} on {f.silent(path, on)} connection(s)"
    if cmd == "gap" and len(rest) == 2:
        f.skip_delta(rest[0], rest[1])  # type: ignore[arg-type]
        return f"next delta of {rest[1]} will skip a u"
    if cmd == "restart-book" and len(rest) == 2:
        return f"restarted {f.restart_book(rest[0], rest[1])} book feed(s)"  # type: ignore[arg-type]
    if cmd == "malformed":
        return f"sent a malformed frame to {await f.send_malformed(rest[0] if rest else None)} connection(s)"
    if cmd == "stall":
        path = rest[0] if rest else None
        seconds = float(rest[1]) if len(rest) > 1 else default_stall
        return f"stalled {f.stall(path, seconds)} connection(s) for {seconds} s"
    if cmd == "reject" and rest:
        f.reject_subscribe(rest[0], " ".join(rest[1:]) or None)
        return f"the next subscribe of {rest[0]} will be rejected"
    if cmd == "idle" and len(rest) == 2:
        return f"idle timeout {rest[1]} s on {f.idle_timeout(rest[0], float(rest[1]))} connection(s)"
    if cmd == "restart":
        await sim.restart()
        return f"restarted the server on {sim.url}"
    if cmd == "deny-trade":
        f.deny_trade_requests(int(rest[0]) if rest else 1)
        return f"the next {rest[0] if rest else 1} trade request(s) get the reqId-less 10005"
    if cmd == "trade-restarting" and rest:
        f.trade_restarting(rest[0] != "off")
        return f"trade service restarting={rest[0] != 'off'} (new requests get 10019)"
    if cmd == "trade-sessions" and rest:
        f.trade_session_limit(None if rest[0] == "off" else int(rest[0]))
        return f"trade sessions per account: {rest[0]}"
    if cmd == "clear":
        f.clear()
        return "faults cleared"
    raise ValueError(f"unknown or incomplete command {line.strip()!r}; type 'help'")
