"""Clients the user drops or replaces do not leak sockets, and say so once."""

from __future__ import annotations

import gc
import logging

import pytest
from helpers import eventually
from reactivex import operators as rx_ops

import rxbybit as rb
from rxbybit.sim import Simulator

from .conftest import fast_client

LINEAR = "/v5/public/linear"


def sockets(sim: Simulator, path: str = LINEAR) -> int:
    return sum(1 for c in sim.connections if c.path == path)


async def test_a_dropped_client_closes_its_sockets(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(5):
        bybit = fast_client(sim)
        await bybit.ticker("BTCUSDT").pipe(rx_ops.take(2))
    await eventually(lambda: sockets(sim) >= 1, what="the clients' sockets")
    caplog.set_level(logging.WARNING, "rxbybit")
    del bybit
    gc.collect()
    await eventually(lambda: sockets(sim) == 0, what="every dropped client's socket closed")
    dropped = [r for r in caplog.records if "dropped without close()" in r.getMessage()]
    assert len(dropped) == 5


async def test_a_dropped_client_keeps_observed_streams_until_the_last_observer_leaves(sim: Simulator) -> None:
    got: list[object] = []
    sub = fast_client(sim).ticker("BTCUSDT").subscribe(got.append)  # the client itself is never kept
    gc.collect()
    await eventually(lambda: len(got) > 3, what="tickers from a client nobody holds")
    sub.dispose()
    await eventually(lambda: sockets(sim) == 0, what="the socket closed once nothing observes")


async def test_a_second_client_with_the_same_settings_warns_once(sim: Simulator,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "rxbybit")
    first = rb.Bybit(sim.url)
    await first.ticker("BTCUSDT").pipe(rx_ops.take(1))
    others = [rb.Bybit(sim.url) for _ in range(3)]
    warned = [r for r in caplog.records if "same settings are still open" in r.getMessage()]
    assert len(warned) == 1
    for client in (first, *others):
        await client.close()
