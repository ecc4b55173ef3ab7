"""The ``rxbybit sim`` command: options, help text and fault commands."""

from __future__ import annotations

import argparse

import pytest

from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET, Simulator
from rxbybit.sim.cli import add_arguments, apply_command


def test_help_documents_simulated_data_demo_keys_and_faults() -> None:
    parser = argparse.ArgumentParser(prog="rxbybit sim")
    add_arguments(parser)
    text = parser.format_help()
    assert "SIMULATED" in text and DEMO_API_KEY in text and DEMO_API_SECRET in text and "--fault-every" in text
    args = parser.parse_args(["--port", "0", "--symbols", "BTCUSDT,ETHUSDT", "--seed", "4"])
    assert (args.host, args.port, args.seed, args.symbols) == ("127.0.0.1", 0, 4, "BTCUSDT,ETHUSDT")


async def test_fault_commands_drive_the_fault_api(sim: Simulator) -> None:
    feed = sim.book_feed("linear", "orderbook.50.BTCUSDT")
    assert "skip a u" in await apply_command(sim, "gap linear orderbook.50.BTCUSDT")
    assert feed.skip == 1
    assert "rejected" in await apply_command(sim, "reject tickers.BTCUSDT")
    assert sim.faults.take_reject("tickers.BTCUSDT") == "error:handler not found,topic:tickers.BTCUSDT"
    assert "0 connection" in await apply_command(sim, "drop /v5/public/linear")
    with pytest.raises(ValueError, match="unknown or incomplete command"):
        await apply_command(sim, "explode")
    with pytest.raises(ValueError):
        await apply_command(sim, "gap linear orderbook.7.BTCUSDT")
