"""Fixtures for the REST tests: a simulator on 127.0.0.1 and a REST client of its demo account."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rxbybit.protocol.signing import Credentials
from rxbybit.rest import RestClient, RetryPolicy
from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET, Simulator


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(host="127.0.0.1", port=0, seed=11, symbols=("BTCUSDT", "ETHUSDT", "DOGEUSDT"),
                         speed=5.0) as s:
        yield s


@pytest.fixture
async def rest(sim: Simulator) -> AsyncIterator[RestClient]:
    async with RestClient(sim.url, credentials=Credentials(DEMO_API_KEY, DEMO_API_SECRET),
                          retry=RetryPolicy(attempts=3, base=0.01, cap=0.05), seed=1) as c:
        yield c
