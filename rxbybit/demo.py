"""``rxbybit demo``: a live terminal view of one symbol's book, trades, ticker and health.

It runs against the embedded simulator unless told otherwise (``--network`` or the
``RXBYBIT_NETWORK`` environment variable), and says so on screen.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field

from .client import Bybit, Health, run
from .protocol.book import BookView
from .protocol.events import Trade
from .protocol.ticker import Ticker


@dataclass
class DemoState:
    """The newest state of each stream; the screen is redrawn from it at a capped rate."""

    symbol: str
    network: str
    simulated: bool
    book: BookView | None = None
    ticker: Ticker | None = None
    health: Health | None = None
    trades: deque[Trade] = field(default_factory=lambda: deque(maxlen=8))
    updates: int = 0
    errors: list[str] = field(default_factory=list)


def render(state: DemoState, levels: int = 5, width: int = 64) -> str:
    """The screen as text (pure, so it can be tested without a terminal)."""
    label = "SIMULATED DATA (rxbybit.sim)" if state.simulated else f"LIVE {state.network.upper()}"
    lines = [f"rxbybit demo  {state.symbol}  [{label}]".ljust(width), "-" * width]
    book = state.book
    if book is None:
        lines.append("order book: waiting for the first snapshot…")
    else:
        lines.append(f"{'bid size':>12} {'bid':>12} | {'ask':<12} {'ask size':<12}   u={book.u}")
        for (bp, bs), (ap, asz) in zip(book.bids(levels), book.asks(levels), strict=False):
            lines.append(f"{bs:>12.4f} {bp:>12.2f} | {ap:<12.2f} {asz:<12.4f}")
        if book.spread is not None:
            lines.append(f"spread {book.spread:.2f}   mid {book.mid:.2f}")
    lines.append("-" * width)
    t = state.ticker
    if t is None:
        lines.append("ticker: waiting…")
    else:
        lines.append(f"ticker last {t.last_price}  mark {t.mark_price}  24h vol {t.get('volume24h')}")
    lines.append("last trades:")
    for tr in reversed(state.trades):
        clock = time.strftime("%H:%M:%S", time.gmtime(tr.ts / 1000))
        lines.append(f"  {clock} {tr.side:<4} {tr.size:>10.4f} @ {tr.price:.2f}")
    lines.append("-" * width)
    h = state.health
    if h is not None:
        age = "-" if h.last_message_age_s is None else f"{h.last_message_age_s * 1000:.0f} ms"
        lines.append(
            f"health {h.state}  {h.msgs_per_s:.0f} msgs/s  last msg {age}  reconnects {h.reconnects}  "
            f"resyncs {h.resyncs}"
        )
        if h.last_error:
            lines.append(f"last error: {h.last_error[:width]}")
    for err in state.errors[-3:]:
        lines.append(f"stream error: {err[:width]}")
    return "\n".join(lines)


async def demo(
    network: str, symbol: str, category: str, depth: int, duration: float | None, fps: float, tty: bool
) -> DemoState:
    """Subscribe, keep the newest state, redraw at ``fps`` until ``duration`` (None: forever)."""
    async with Bybit(network) as bybit:
        state = DemoState(symbol, bybit.network_name, bybit.simulated)

        def keep_book(v: BookView) -> None:
            state.book = v
            state.updates += 1

        def keep_ticker(v: Ticker) -> None:
            state.ticker = v

        def keep_health(v: Health) -> None:
            state.health = v

        def failed(exc: Exception) -> None:
            state.errors.append(str(exc))

        subs = [
            bybit.orderbook(symbol, depth=depth, category=category).subscribe(keep_book, failed),  # type: ignore[arg-type]
            bybit.trades(symbol, category=category).subscribe(state.trades.append, failed),  # type: ignore[arg-type]
            bybit.ticker(symbol, category=category).subscribe(keep_ticker, failed),  # type: ignore[arg-type]
            bybit.health.subscribe(keep_health, failed),
        ]
        started = time.monotonic()
        try:
            while duration is None or time.monotonic() - started < duration:
                await asyncio.sleep(1 / fps)
                screen = render(state)
                if tty:
                    sys.stdout.write("\x1b[H\x1b[2J" + screen + "\n")
                else:
                    sys.stdout.write(screen + "\n\n")
                sys.stdout.flush()
        finally:
            for s in subs:
                s.dispose()
        return state


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rxbybit demo``."""
    parser.add_argument("--network", default=os.environ.get("RXBYBIT_NETWORK", "sim"),
                        help="sim (default: the embedded simulator), mainnet, testnet or a base URL")
    parser.add_argument("--symbol", default="BTCUSDT")
    parser.add_argument("--category", default="linear", choices=["spot", "linear", "inverse"])
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--duration", type=float, default=None,
                        help="stop after this many seconds (default: until Ctrl-C; 15 when not a terminal)")
    parser.add_argument("--fps", type=float, default=4.0, help="screen refreshes per second")


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo; exit code 0 when it received data, 1 otherwise."""
    tty = sys.stdout.isatty()
    duration = args.duration if args.duration is not None else (None if tty else 15.0)
    state = run(demo(args.network, args.symbol, args.category, args.depth, duration, args.fps, tty))
    if state.updates == 0:
        print("no order book update arrived", file=sys.stderr)
        return 1
    return 0

