"""Fixtures: a simulator on 127.0.0.1 and a client with fast heartbeats and reconnects."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import rxbybit as rb
from rxbybit.sim import Simulator
from rxbybit.transport import exponential_backoff


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(host="127.0.0.1", port=0, seed=7, symbols=("BTCUSDT", "ETHUSDT"), speed=5.0) as s:
        yield s


def fast_client(sim: Simulator, **kwargs: object) -> rb.Bybit:
    """A client that pings every 0.2 s, gives up on a pong after 0.5 s and reconnects at once."""
    options: dict[str, object] = {
        "ping_interval": 0.2,
        "pong_timeout": 0.5,
        "health_interval": 0.1,
        "backoff": exponential_backoff(initial=0.02, maximum=0.2),
    }
    options.update(kwargs)
    return rb.Bybit(sim.url, **options)  # type: ignore[arg-type]

