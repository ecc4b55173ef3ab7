"""Fixtures of the conformance group: one simulator on 127.0.0.1 that third-party clients talk to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rxbybit.sim import Simulator


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """Bybit's defaults (wall clock, data before some acks), 5 ms of latency (pybit registers a request
    after sending it); a fixed seed so a run repeats."""
    async with Simulator(host="127.0.0.1", port=0, seed=12, symbols=("BTCUSDT", "ETHUSDT"), latency_ms=5) as s:
        yield s
