"""The client's parts against the simulator: topics forgotten when unobserved or rejected, the
exchange's subscriptions converging to what is observed, and one embedded simulator per process."""

from __future__ import annotations

import asyncio
import random

import pytest
from helpers import eventually
from reactivex import operators as rx_ops

import rxbybit as rb
from rxbybit.errors import ConfigurationError, SubscriptionError
from rxbybit.protocol import BookView, Trade
from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET, Simulator

from .conftest import fast_client

LINEAR = "/v5/public/linear"


def exchange_topics(sim: Simulator, path: str = LINEAR) -> set[str]:
    """What the exchange holds for clients on ``path``."""
    return {t for c in sim.connections if c.path == path for t in c.subs}


async def test_rejected_topics_are_forgotten_and_memory_follows_what_is_observed(sim: Simulator) -> None:
    async with fast_client(sim) as bybit:
        errors: list[Exception] = []
        for i in range(50):  # well-formed names the exchange does not list
            bybit.ticker(f"NOPE{i}USDT").subscribe(lambda t: None, on_error=errors.append)
        await eventually(lambda: len(errors) == 50, what="50 rejections")
        assert all(isinstance(e, SubscriptionError) for e in errors)
        assert bybit.health_now().topics == {}
        assert exchange_topics(sim) == set()
        sub = bybit.ticker("BTCUSDT").subscribe(lambda t: None)
        await bybit.wait_subscribed()
        assert set(bybit.health_now().topics) == {("linear", "tickers.BTCUSDT")}
        sub.dispose()
        assert bybit.health_now().topics == {}


async def test_the_same_observable_can_be_subscribed_again_after_it_was_forgotten(sim: Simulator) -> None:
    async with fast_client(sim) as bybit:
        book = bybit.orderbook("BTCUSDT", depth=50)
        first = await book.pipe(rx_ops.take(2), rx_ops.to_list())
        assert bybit.health_now().topics == {}  # take(2) disposed it: forgotten
        again = await book.pipe(rx_ops.take(2), rx_ops.to_list())
        assert all(isinstance(v, BookView) for v in first + again)
        assert again[0].u >= first[-1].u


async def test_a_subscribe_dispose_storm_converges_to_what_is_observed(sim: Simulator) -> None:
    """Observers come and go faster than the exchange answers (a symbol dropdown flicked):
    once it settles the exchange holds exactly the observed books, and each emits fresh books."""
    rng = random.Random(5)
    symbols = ["BTCUSDT", "ETHUSDT"]
    depths = [1, 50, 200]
    async with fast_client(sim) as bybit:
        live: dict[tuple[str, int], object] = {}
        for i in range(300):  # bounded: no awaits between most steps, like a user clicking
            key = (rng.choice(symbols), rng.choice(depths))
            held = live.pop(key, None)
            if held is not None:
                held.dispose()  # type: ignore[attr-defined]
            else:
                live[key] = bybit.orderbook(key[0], depth=key[1]).subscribe(lambda v: None)
            if i % 25 == 0:
                await asyncio.sleep(0)  # let some frames out mid-storm
        wanted = {f"orderbook.{d}.{s}" for s, d in live}
        await eventually(lambda: exchange_topics(sim) == wanted, what=f"the exchange to hold {sorted(wanted)}")
        await bybit.wait_subscribed()
        for s, d in live:
            view = await bybit.orderbook(s, depth=d).pipe(rx_ops.take(1))
            assert isinstance(view, BookView) and view.symbol == s
        for held in live.values():
            held.dispose()  # type: ignore[attr-defined]
        await eventually(lambda: not exchange_topics(sim), what="every book unsubscribed")


async def test_every_sim_client_of_a_process_trades_on_one_market() -> None:
    """Two ``network="sim"`` clients share the embedded simulator: a market order placed by one
    prints a public trade that the other one sees."""
    async with rb.Bybit("sim") as watcher, \
            rb.Bybit("sim", api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET) as trader:
        assert watcher.simulator is not None and watcher.simulator is trader.simulator
        seen: list[Trade] = []
        watcher.trades("SOLUSDT").subscribe(seen.append)
        await watcher.wait_subscribed()
        ack = await trader.trade.create_order(category="linear", symbol="SOLUSDT", side="Buy",
                                              order_type="Market", qty="7.3")
        assert ack.order_id
        await eventually(lambda: any(t.size == 7.3 for t in seen), what="the other client's fill on the tape")


async def test_the_embedded_simulator_stops_with_its_last_client() -> None:
    first = rb.Bybit("sim")
    second = rb.Bybit("sim")
    async with first, second:
        sim = first.simulator
        assert sim is not None and second.simulator is sim
        await first.close()
        assert sim.connections is not None and second.simulator is sim  # still serving the second
        got = await second.trades("BTCUSDT").pipe(rx_ops.take(1))
        assert isinstance(got, Trade)
    async with rb.Bybit("sim") as third:
        assert third.simulator is not sim  # a fresh one: the last client stopped the old


async def test_the_trade_api_shares_the_pool_and_is_typed(sim: Simulator) -> None:
    async with fast_client(sim, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET) as bybit:
        trade = bybit.trade
        assert trade is bybit.trade and isinstance(trade, rb.client.trade.TradeClient)
        await trade.connect()
        assert bybit.health_now().connections == {"trade": "connected"}
        assert trade.responses.provenance is rb.Provenance.LIVE  # a base URL without simulated=True


async def test_a_second_simulator_configuration_is_a_clear_error_not_a_retry_loop() -> None:
    async with rb.Bybit("sim", sim_options={"seed": 1}) as first:
        assert first.simulator is not None
        other = rb.Bybit("sim", sim_options={"seed": 2})
        errors: list[Exception] = []
        other.trades("BTCUSDT").subscribe(lambda t: None, on_error=errors.append)
        await eventually(lambda: bool(errors), what="the configuration error on the stream")
        assert isinstance(errors[0], ConfigurationError) and "already runs" in str(errors[0])
        assert other.health_now().reconnects == 0  # refused once, not retried with backoff
        with pytest.raises(ConfigurationError, match="shares one market"):
            async with rb.Bybit("sim", sim_options={"seed": 3}):
                pass
        await other.close()
        async with rb.Bybit("sim") as same:  # no options: joins the running one
            assert same.simulator is first.simulator


async def test_health_keeps_the_same_topic_name_on_linear_and_spot_apart(sim: Simulator) -> None:
    async with fast_client(sim) as bybit:
        subs = [bybit.ticker("BTCUSDT", category=c).subscribe(lambda t: None) for c in ("linear", "spot")]
        await bybit.wait_subscribed()
        topics = bybit.health_now().topics
        assert set(topics) == {("linear", "tickers.BTCUSDT"), ("spot", "tickers.BTCUSDT")}
        assert {h.endpoint for h in topics.values()} == {"linear", "spot"}
        assert all(h.subscribed for h in topics.values())
        await eventually(lambda: all(h.messages > 0 for h in bybit.health_now().topics.values()),
                         what="messages counted on both sockets")
        for s in subs:
            s.dispose()


async def test_health_tells_outages_and_how_long_the_last_one_lasted(sim: Simulator) -> None:
    async with fast_client(sim) as bybit:
        sub = bybit.ticker("BTCUSDT").subscribe(lambda t: None)
        await bybit.wait_subscribed()
        assert bybit.health_now().outages == 0 and bybit.health_now().down_for_s is None
        await sim.faults.drop_connections("/v5/public/linear")
        await eventually(lambda: bybit.health_now().outages == 1 and bybit.health_now().state == "connected",
                         what="the outage counted and over")
        health = bybit.health_now()
        assert health.last_outage_s is not None and health.last_outage_s > 0 and health.down_for_s is None
        sub.dispose()
