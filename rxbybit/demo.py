"""``rxbybit demo``: a live terminal view of one symbol's book, trades, ticker and health.

It runs against the embedded simulator unless told otherwise (``--network`` or the
``RXBYBIT_NETWORK`` environment variable), and says so in a header that never scrolls away. In a
terminal it redraws in place on the alternate screen (``rich``), so the scrollback is left as it
was, and fits the book and the tape to the terminal's height and width. Prices show the decimals
of the instrument's tick (``--tick-size``, else the exchange's instrument info, else the fewest
that show every price seen exactly).
When the exchange rejects every subscription (an unknown symbol), it says so and exits at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rich.console import Console
from rich.live import Live
from rich.text import Text

from .client import Bybit, Health, run
from .display import decimals_of, places_for
from .protocol.book import BookView
from .protocol.events import Trade
from .protocol.ticker import Ticker

MARKET_STREAMS = 3
"""Book, trades and ticker: when all of them are rejected there is nothing to show."""


@dataclass
class DemoState:
    """The newest state of each stream; the screen is redrawn from it at a capped rate."""

    symbol: str
    network: str
    simulated: bool
    label: str = ""
    """``SIMULATED``, ``REPLAY`` or ``""`` (live), read from the client on every redraw."""
    book: BookView | None = None
    ticker: Ticker | None = None
    health: Health | None = None
    trades: deque[Trade] = field(default_factory=lambda: deque(maxlen=200))
    updates: int = 0
    errors: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    """Streams the exchange refused (their error texts)."""
    price_places: int | None = None
    """Decimals of the price (from the tick size; else grown to the most any price seen needs)."""
    tick_given: bool = False

    @property
    def all_rejected(self) -> bool:
        """True when every market stream was refused: nothing will ever arrive."""
        return len(self.rejected) >= MARKET_STREAMS

    def see_prices(self, prices: list[float]) -> None:
        """Grow the price decimals to what ``prices`` need (unless a tick size was given)."""
        if not self.tick_given and prices:
            self.price_places = max(self.price_places or 0, places_for(prices))


def _header(state: DemoState, width: int) -> str:
    if state.simulated or state.label:
        label = state.label or "SIMULATED"
        what = "SIMULATED DATA (rxbybit.sim), not the market" if label == "SIMULATED" else f"{label} of a recording"
        head = f"rxbybit demo  {state.symbol}  [{what}]"
    elif state.health is None or state.health.state != "connected":
        # not LIVE before the handshake: a URL may turn out to be the simulator
        head = f"rxbybit demo  {state.symbol}  [{state.network}: connecting…]"
    else:
        head = f"rxbybit demo  {state.symbol}  [LIVE {state.network.upper()}]"
    return head[:width]


def _p(x: float | None, places: int | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.{places}f}" if places is not None else f"{x:,.8g}"


def screen_lines(state: DemoState, width: int = 80, height: int = 24) -> list[str]:
    """The screen as lines that fit ``width`` x ``height`` (pure, so it can be tested without a terminal).

    The header comes first and is always kept; the book gets about half of the remaining height, the
    trades the rest."""
    width = max(width, 40)
    height = max(height, 12)
    lines = [_header(state, width), "-" * width]
    places = state.price_places
    if state.all_rejected:
        lines.append("every subscription was rejected by the exchange:")
        lines.extend(f"  {r[: width - 2]}" for r in state.rejected)
        lines.append(f"is {state.symbol} listed on this category? (see --symbol and --category)")
        return lines[:height]
    fixed = 10  # header, rules, book header, spread, ticker, trades title, health
    levels = max(1, min(25, (height - fixed) // 4))
    book = state.book
    if book is None:
        lines.append("order book: waiting for the first snapshot…")
    else:
        col = max(10, min(18, (width - 8) // 4))
        lines.append(f"{'bid size':>{col}} {'bid':>{col}} | {'ask':<{col}} {'ask size':<{col}}"[:width])
        for (bp, bs), (ap, asz) in zip(book.bids(levels), book.asks(levels), strict=False):
            lines.append(f"{bs:>{col},.4f} {_p(bp, places):>{col}} | {_p(ap, places):<{col}} {asz:<{col},.4f}"[:width])
        if book.spread is not None and book.mid is not None:
            mid_places = None if places is None else places + 1
            lines.append(f"spread {_p(book.spread, places)}   mid {_p(round(book.mid, 9), mid_places)}   u={book.u}")
    lines.append("-" * width)
    t = state.ticker
    if t is None:
        lines.append("ticker: waiting…")
    else:
        vol = t.get("volume24h")
        vol_text = f"{vol:,.2f}" if isinstance(vol, float) else "-"
        last, mark = _p(t.last_price, places), _p(t.mark_price, places)
        lines.append(f"ticker last {last}  mark {mark}  24h vol {vol_text}"[:width])
    room = height - len(lines) - 4
    lines.append("last trades:")
    for tr in list(reversed(state.trades))[: max(0, room)]:
        clock = time.strftime("%H:%M:%S", time.gmtime(tr.ts / 1000))
        lines.append(f"  {clock} {tr.side:<4} {tr.size:>12,.4f} @ {_p(tr.price, places)}"[:width])
    lines.append("-" * width)
    h = state.health
    if h is not None:
        age = "-" if h.last_message_age_s is None else f"{h.last_message_age_s * 1000:.0f} ms"
        lines.append(
            f"health {h.state}  {h.msgs_per_s:.0f} msgs/s  last msg {age}  reconnects {h.reconnects}  "
            f"resyncs {h.resyncs}"[:width]
        )
    for err in state.errors[-1:]:
        lines.append(f"stream error: {err}"[:width])
    return lines[:height]


def render(state: DemoState, levels: int = 5, width: int = 64) -> str:
    """The screen as text for a ``levels``-deep book (kept for scripts; see :func:`screen_lines`)."""
    return "\n".join(screen_lines(state, width=width, height=levels * 4 + 16))


def _styled(lines: list[str], state: DemoState) -> Text:
    text = Text()
    for i, line in enumerate(lines):
        style = ""
        if i == 0:
            style = "bold white on dark_orange3" if (state.simulated or state.label) else "bold"
        elif line.startswith("every subscription") or line.startswith("stream error"):
            style = "bold red"
        elif " Buy " in line:
            style = "green"
        elif " Sell " in line:
            style = "red"
        text.append(line + "\n", style=style)
    return text


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Keep log lines off the full-screen view (the screen shows the errors itself)."""
    logger = logging.getLogger("rxbybit")
    old = logger.propagate, list(logger.handlers)
    logger.propagate = False
    logger.handlers = [logging.NullHandler()]
    try:
        yield
    finally:
        logger.propagate, logger.handlers = old[0], old[1]


async def instrument_tick(bybit: Bybit, category: str, symbol: str, timeout: float = 5.0) -> tuple[str | None, bool]:
    """The tick size of ``symbol`` from the exchange's instrument info (REST), and whether the
    symbol is listed. An unreachable REST endpoint gives ``(None, True)``: prices seen decide then."""
    try:
        infos = await asyncio.wait_for(bybit.instruments(category), timeout)  # type: ignore[arg-type]
    except Exception:  # REST unreachable or slow: fall back to the prices seen, never block the view
        return None, True
    info = infos.get(symbol)
    if info is None:
        return None, False
    return str(info.tick_size), True


async def demo(
    network: str, symbol: str, category: str, depth: int, duration: float | None, fps: float, tty: bool,
    tick_size: str | None = None, console: Console | None = None,
) -> DemoState:
    """Subscribe, keep the newest state, redraw at ``fps`` until ``duration`` (None: forever) or until
    every subscription was rejected."""
    async with Bybit(network) as bybit:
        state = DemoState(symbol, bybit.network_name, bybit.simulated)
        if tick_size is None:
            tick_size, listed = await instrument_tick(bybit, category, symbol)
            if not listed:
                state.rejected = [f"{symbol} is not listed on {category} (instrument info)"] * MARKET_STREAMS
                return state
        if tick_size is not None:
            state.price_places, state.tick_given = decimals_of(tick_size), True

        def keep_book(v: BookView) -> None:
            state.book = v
            state.updates += 1
            state.see_prices([p for p, _ in v.bids(3)] + [p for p, _ in v.asks(3)])

        def keep_ticker(v: Ticker) -> None:
            state.ticker = v

        def keep_health(v: Health) -> None:
            state.health = v

        def rejected(exc: Exception) -> None:
            state.rejected.append(str(exc))

        def failed(exc: Exception) -> None:
            state.errors.append(str(exc))

        subs = [
            bybit.orderbook(symbol, depth=depth, category=category).subscribe(keep_book, rejected),  # type: ignore[arg-type]
            bybit.trades(symbol, category=category).subscribe(state.trades.append, rejected),  # type: ignore[arg-type]
            bybit.ticker(symbol, category=category).subscribe(keep_ticker, rejected),  # type: ignore[arg-type]
            bybit.health.subscribe(keep_health, failed),
        ]
        started = time.monotonic()
        out = console or Console()
        try:
            if tty:
                with _quiet_logs(), Live(console=out, screen=True, auto_refresh=False, transient=True) as live:
                    await _loop(state, bybit, started, duration, fps, lambda lines: live.update(
                        _styled(lines, state), refresh=True), lambda: (out.size.width, out.size.height))
            else:
                def show(lines: list[str]) -> None:
                    sys.stdout.write("\n".join(lines) + "\n\n")
                    sys.stdout.flush()

                await _loop(state, bybit, started, duration, fps, show, lambda: (80, 40))
        finally:
            for s in subs:
                s.dispose()
        return state


async def _loop(state: DemoState, bybit: Bybit, started: float, duration: float | None, fps: float,
                show: Callable[[list[str]], None], size: Callable[[], tuple[int, int]]) -> None:
    while duration is None or time.monotonic() - started < duration:
        await asyncio.sleep(1 / fps)
        state.simulated = bybit.simulated  # a URL that turned out to be the simulator says so
        state.label = bybit.provenance.label if bybit.simulated else ""
        width, height = size()
        show(screen_lines(state, width, height))
        if state.all_rejected:
            return


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rxbybit demo``."""
    from .tools import network_arg, positive_float, positive_int

    parser.add_argument("--network", type=network_arg, default=os.environ.get("RXBYBIT_NETWORK", "sim"),
                        help="sim (default: the embedded simulator), mainnet, testnet, demo or a base URL ws://...")
    parser.add_argument("--symbol", default="BTCUSDT")
    parser.add_argument("--category", default="linear", choices=["spot", "linear", "inverse"])
    parser.add_argument("--depth", type=positive_int, default=50,
                        help="order book depth: 1, 50, 200 or 1000 (spot: 1, 50, 200)")
    parser.add_argument("--tick-size", default=None, help="price step, e.g. 0.00001: its decimals are shown")
    parser.add_argument("--duration", type=positive_float, default=None,
                        help="stop after this many seconds (default: until Ctrl-C; 15 when not a terminal)")
    parser.add_argument("--fps", type=positive_float, default=4.0, help="screen refreshes per second")


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo; exit code 0 when it received data, 1 otherwise."""
    from .protocol import topics as T
    from .tools import usage_error

    try:
        T.orderbook(args.symbol, args.depth, args.category)
        if args.tick_size is not None:
            decimals_of(args.tick_size)
    except ValueError as exc:
        return usage_error("demo", str(exc))
    tty = sys.stdout.isatty()
    duration = args.duration if args.duration is not None else (None if tty else 15.0)
    state = run(demo(args.network, args.symbol, args.category, args.depth, duration, args.fps, tty, args.tick_size))
    if state.all_rejected:
        print(f"rxbybit demo: every subscription for {args.symbol} ({args.category}) was rejected: "
              f"{state.rejected[0]}", file=sys.stderr)
        return 1
    if state.updates == 0:
        print("no order book update arrived", file=sys.stderr)
        return 1
    return 0
