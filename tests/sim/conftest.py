"""Fixtures for the simulator tests: a simulator on 127.0.0.1 and a plain websockets client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sim_wsclient import WsClient
from websockets.asyncio.client import connect

from rxbybit.sim import Simulator


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(host="127.0.0.1", port=0, seed=3, symbols=("BTCUSDT", "ETHUSDT"), speed=5.0) as s:
        yield s


@pytest.fixture
def client(sim: Simulator) -> Callable[[str], Any]:
    """``async with client("/v5/public/linear") as c`` opens a plain websocket to the simulator."""

    class _Open:
        def __init__(self, path: str) -> None:
            self.path = path
            self._cm: Any = None

        async def __aenter__(self) -> WsClient:
            self._cm = connect(sim.url + self.path, max_size=2**24)
            return WsClient(await self._cm.__aenter__())

        async def __aexit__(self, *exc: Any) -> None:
            await self._cm.__aexit__(*exc)

    return _Open
