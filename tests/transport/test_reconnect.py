"""Reconnects with the DEFAULT backoff policy: every outage after a healthy session starts short,
however the session ended; one log line when lost and one when back; subscription requests are
batched and rate-bounded."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest
from chaos.proxy import FaultProxy
from helpers import eventually, scaled

from rxbybit.protocol.events import Event
from rxbybit.sim import Simulator
from rxbybit.transport import Connection
from rxbybit.transport.backoff import HEALTHY_SESSION_S
from rxbybit.transport.connection import REQUEST_BURST, REQUESTS_PER_S

LINEAR = "/v5/public/linear"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(host="127.0.0.1", port=0, seed=5, symbols=("BTCUSDT", "ETHUSDT"), speed=1.0) as s:
        yield s


def connection(url: str, **kwargs: float) -> Connection:
    """A linear connection with the default backoff policy (and whatever ``kwargs`` set)."""
    events: list[Event] = []
    return Connection(url + LINEAR, "linear", on_event=events.append, simulated=True, **kwargs)  # type: ignore[arg-type]


class Outages:
    """Times each outage from the connection's own callbacks: lost (on_disconnect) to connected."""

    def __init__(self) -> None:
        self.connected_at: float | None = None
        self.lost_at: float | None = None
        self.outages: list[float] = []

    def on_state(self, conn: Connection) -> None:
        if conn.state == "connected":
            now = time.monotonic()
            self.connected_at = now
            if self.lost_at is not None:
                self.outages.append(now - self.lost_at)
                self.lost_at = None

    def on_disconnect(self, conn: Connection) -> None:
        if self.connected_at is not None and self.lost_at is None:
            self.lost_at = time.monotonic()
        self.connected_at = None

    async def healthy_for(self, seconds: float) -> None:
        """Wait until the current session has been connected for ``seconds``."""
        await eventually(lambda: self.connected_at is not None and time.monotonic() - self.connected_at > seconds,
                         seconds + 10.0, f"a session connected for {seconds} s")


async def test_every_outage_after_a_healthy_session_is_short_with_the_default_policy(
        sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "rxbybit.transport")
    watch = Outages()
    conn = connection(sim.url, ping_interval=0.3, pong_timeout=0.3)  # the default backoff policy
    conn._on_state, conn._on_disconnect = watch.on_state, watch.on_disconnect
    conn.subscribe(["tickers.BTCUSDT"])
    try:
        for n in range(6):
            await watch.healthy_for(HEALTHY_SESSION_S + 0.2)
            if n % 2:  # a missed pong: the server goes silent until the client gives up on it
                sim.faults.silent(LINEAR)
                await eventually(lambda: watch.connected_at is None, 10.0, "the silent socket replaced")
                sim.faults.silent(LINEAR, on=False)
            else:  # a dropped socket
                await sim.faults.drop_connections(LINEAR)
            await eventually(lambda n=n: len(watch.outages) == n + 1, 15.0, "the connection back")
            # the default policy's first delay is at most 0.25 s: no outage may grow beyond that and a connect
            assert watch.outages[-1] < scaled(1.0), watch.outages
        await eventually(lambda: "tickers.BTCUSDT" in conn.confirmed, 5.0, "resubscribed")
    finally:
        await conn.close()
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    lost = [r for r in lines if "connection lost" in r.getMessage()]
    back = [r for r in lines if "connection back" in r.getMessage()]
    assert len(lost) == 6 and len(back) == 6 and len(lines) == 12, [r.getMessage() for r in lines]


async def test_a_long_outage_logs_one_line_lost_and_one_back_and_attempts_at_debug(
        sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "rxbybit.transport")
    async with FaultProxy("127.0.0.1", int(sim.url.rsplit(":", 1)[1]), seed=1) as proxy:
        conn = connection(proxy.url)
        conn.subscribe(["tickers.BTCUSDT"])
        try:
            await eventually(lambda: "tickers.BTCUSDT" in conn.confirmed, 5.0, "subscribed")
            proxy.outage(1.6)  # 0.25 + 0.5 + 1 s of default delays (less jitter): several refused attempts
            await eventually(lambda: conn.stats.outages == 1 and conn.state == "connected", 15.0, "back")
            await eventually(lambda: "tickers.BTCUSDT" in conn.confirmed, 5.0, "resubscribed")
        finally:
            await conn.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    attempts = [r for r in caplog.records if r.levelno == logging.DEBUG and "attempt" in r.getMessage()]
    assert len(warnings) == 2 and "connection lost" in warnings[0] and "connection back" in warnings[1], warnings
    assert proxy.stats.refused >= 1 and len(attempts) == proxy.stats.refused


async def test_subscriptions_of_one_loop_iteration_leave_as_one_request(sim: Simulator) -> None:
    conn = connection(sim.url)
    try:
        await conn.wait_ready(scaled(5.0))
        topics = [f"tickers.{s}" for s in ("BTCUSDT", "ETHUSDT")] + \
                 [f"orderbook.{d}.{s}" for d in (1, 50, 200) for s in ("BTCUSDT", "ETHUSDT")] + \
                 [f"publicTrade.{s}" for s in ("BTCUSDT", "ETHUSDT")]
        for t in topics:  # one call per observer, as a gateway's clients make them
            conn.subscribe([t])
        conn.unsubscribe(topics[-1:])  # and one leaves again at once: never sent
        await eventually(lambda: conn.confirmed == frozenset(topics[:-1]), 5.0, "all confirmed")
        assert conn.stats.requests_sent == 1
        subs = {t for c in sim.connections if c.path == LINEAR for t in c.subs}
        assert subs == set(topics[:-1])
    finally:
        await conn.close()


async def test_subscription_requests_are_rate_bounded_and_batch_up_while_they_wait(sim: Simulator) -> None:
    conn = connection(sim.url)
    try:
        await conn.wait_ready(scaled(5.0))
        loop = asyncio.get_running_loop()
        started = loop.time()
        wanted: set[str] = set()
        names = [f"{kind}.{s}" for kind in ("tickers", "orderbook.1", "orderbook.50", "publicTrade")
                 for s in ("BTCUSDT", "ETHUSDT")]
        for i in range(300):  # a storm: one change every ~2 ms, each topic flipping on and off
            topic = names[(i * 3) % len(names)]
            if topic in wanted:
                conn.unsubscribe([topic])
                wanted.discard(topic)
            else:
                conn.subscribe([topic])
                wanted.add(topic)
            await asyncio.sleep(0.002)  # pacing the storm, not waiting for anything
        elapsed = loop.time() - started
        assert conn.stats.requests_sent <= REQUEST_BURST + REQUESTS_PER_S * elapsed + 1, \
            (conn.stats.requests_sent, elapsed)
        await eventually(lambda: conn.settled, 10.0, "every request answered")
        subs = {t for c in sim.connections if c.path == LINEAR for t in c.subs}
        assert subs == wanted == set(conn.topics)
    finally:
        await conn.close()
