"""The terminal demo: a screen that fits the terminal, keeps the SIMULATED header, shows the tick's
decimals, and says within seconds when every subscription was rejected."""

from __future__ import annotations

import asyncio
import io

from frames_helpers import book_view, trade
from helpers import scaled
from rich.console import Console

from rxbybit.demo import DemoState, demo, render, screen_lines


def _doge_state() -> DemoState:
    state = DemoState("DOGEUSDT", "sim", True)
    state.book = book_view([(0.15, 1000.0), (0.14999, 20.0)], [(0.15001, 5.0), (0.1501, 7.0)], symbol="DOGEUSDT")
    state.trades.extend(trade(i, 0.15, side="Sell" if i % 2 else "Buy") for i in range(50))
    return state


def test_the_screen_fits_the_terminal_and_keeps_the_header() -> None:
    state = _doge_state()
    state.price_places = 5
    for width, height in ((60, 15), (120, 40), (40, 12)):
        lines = screen_lines(state, width, height)
        assert len(lines) <= height and all(len(line) <= width for line in lines)
        assert lines[0].startswith("rxbybit demo  DOGEUSDT  [SIMULATED")
    tall = screen_lines(state, 120, 60)
    short = screen_lines(state, 120, 20)
    assert sum("@" in x for x in tall) > sum("@" in x for x in short), "a taller terminal shows more trades"


def test_prices_show_the_tick_decimals_not_two() -> None:
    state = _doge_state()
    state.see_prices([0.15, 0.14999, 0.15001])
    text = render(state, levels=2, width=80)
    assert "0.14999" in text and "0.15001" in text and "0.15000" in text
    assert "spread 0.00001" in text


def test_all_rejected_says_so() -> None:
    state = DemoState("NOPEUSDT", "sim", True, rejected=["rejected a", "rejected b", "rejected c"])
    text = "\n".join(screen_lines(state, 80, 24))
    assert "every subscription was rejected" in text and "NOPEUSDT" in text


async def test_an_unknown_symbol_ends_the_demo_within_seconds() -> None:
    state = await asyncio.wait_for(
        demo("sim", "NOPEUSDT", "linear", 50, None, 10.0, False), scaled(10))  # duration None: forever otherwise
    assert state.all_rejected and "NOPEUSDT" in state.rejected[0]


async def test_the_terminal_view_uses_the_alternate_screen() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100, height=30)
    state = await asyncio.wait_for(
        demo("sim", "BTCUSDT", "linear", 50, 1.5, 8.0, True, tick_size="0.1", console=console), scaled(20))
    out = buf.getvalue()
    assert "\x1b[?1049h" in out and "\x1b[?1049l" in out, "entered and left the alternate screen"
    assert "SIMULATED" in out and state.updates > 0 and state.price_places == 1


async def test_the_demo_takes_the_tick_from_the_instrument_info() -> None:
    state = await asyncio.wait_for(demo("sim", "ETHUSDT", "linear", 50, 1.0, 8.0, False), scaled(20))
    assert state.tick_given and state.price_places == 2  # ETHUSDT's tick is 0.01 (REST instruments-info)


async def test_the_demo_pointed_at_a_simulator_by_url_says_simulated() -> None:
    from rxbybit.sim import Simulator

    async with Simulator(host="127.0.0.1", port=0, seed=5, symbols=("BTCUSDT",)) as sim:
        buf = io.StringIO()
        console = Console(file=buf, force_terminal=True, width=100, height=30)
        state = await asyncio.wait_for(
            demo(sim.url, "BTCUSDT", "linear", 50, 1.5, 8.0, True, tick_size="0.1", console=console), scaled(20))
    assert state.simulated and state.label == "SIMULATED"
    assert "SIMULATED DATA" in buf.getvalue() and "LIVE" not in buf.getvalue(), "never called live, not even at first"
