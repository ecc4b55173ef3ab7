"""The reactive client against the simulator on loopback, with injected faults.

After every fault the client's book must equal what the simulator last published, no topic may
be lost, and ``health`` must say what happened.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import eventually

import rxbybit as rb
from rxbybit.errors import SubscriptionError
from rxbybit.protocol import BookView, Trade
from rxbybit.sim import Simulator

from .conftest import fast_client

LINEAR = "/v5/public/linear"
TOPIC = "orderbook.50.BTCUSDT"


class BookWatch:
    """Keeps every emitted book view by ``u`` and checks it against the simulator."""

    def __init__(self) -> None:
        self.views: list[BookView] = []
        self.by_u: dict[int, BookView] = {}
        self.errors: list[Exception] = []

    def __call__(self, view: BookView) -> None:
        if self.views and view.u < self.views[-1].u:  # a restart: update ids begin again
            self.by_u.clear()
        self.views.append(view)
        self.by_u[view.u] = view

    async def matches(self, sim: Simulator, topic: str = TOPIC, timeout: float = 10.0) -> None:
        """Wait until the client has emitted the book the simulator last published, and compare."""
        state: dict[str, Any] = {}

        def caught_up() -> bool:
            u, bids, asks = sim.published_book("linear", topic)
            view = self.by_u.get(u)
            state.update(u=u, bids=bids, asks=asks, view=view)
            return view is not None

        await eventually(caught_up, timeout, f"the client to reach the simulator's book on {topic}")
        view = state["view"]
        assert view.bids() == [tuple(x) for x in state["bids"]]
        assert view.asks() == [tuple(x) for x in state["asks"]]
        assert not view.crossed


async def test_book_equals_simulator_and_views_are_immutable(sim: Simulator) -> None:
    async with fast_client(sim) as bybit:
        watch = BookWatch()
        sub = bybit.orderbook("BTCUSDT", depth=50).subscribe(watch)
        await eventually(lambda: len(watch.views) > 5, what="book updates")
        first = watch.views[0]
        frozen = (first.u, first.bids(), first.asks())
        await watch.matches(sim)
        assert (first.u, first.bids(), first.asks()) == frozen  # later deltas never change a held view
        sub.dispose()


def exchange_topics(sim: Simulator, path: str) -> set[str]:
    """What the exchange holds for clients on ``path``: the truth, whatever the client believes."""
    return {t for c in sim.connections if c.path == path for t in c.subs}


async def test_one_exchange_subscription_for_many_observers_and_unsubscribe_at_the_end(sim: Simulator) -> None:
    async with fast_client(sim) as bybit:
        a, b = BookWatch(), BookWatch()
        sa = bybit.orderbook("BTCUSDT", depth=50).subscribe(a)
        sb = bybit.orderbook("BTCUSDT", depth=50).subscribe(b)
        trades: list[Trade] = []
        st = bybit.trades("BTCUSDT").subscribe(trades.append)
        await eventually(lambda: len(a.views) > 3 and len(b.views) > 3)
        await bybit.wait_subscribed()
        assert exchange_topics(sim, LINEAR) == {TOPIC, "publicTrade.BTCUSDT"}
        assert len([c for c in sim.connections if c.path == LINEAR]) == 1
        assert set(bybit.health_now().topics) == {("linear", TOPIC), ("linear", "publicTrade.BTCUSDT")}
        sa.dispose()
        st.dispose()  # its unsubscribe travels behind any the book's dispose might have sent
        await eventually(lambda: "publicTrade.BTCUSDT" not in exchange_topics(sim, LINEAR), what="trades unsubscribed")
        assert exchange_topics(sim, LINEAR) == {TOPIC}  # b still listens
        sb.dispose()
        await eventually(lambda: not exchange_topics(sim, LINEAR), what="the book unsubscribed")
        assert bybit.health_now().topics == {}  # nothing observed: nothing kept


async def test_abrupt_close_reconnects_and_resubscribes(sim: Simulator) -> None:
    async with fast_client(sim) as bybit:
        watch = BookWatch()
        trades: list[Trade] = []
        bybit.orderbook("BTCUSDT", depth=50).subscribe(watch)
        bybit.trades("BTCUSDT").subscribe(trades.append)
        await eventually(lambda: len(watch.views) > 2)
        await sim.faults.drop_connections(path=LINEAR)
        await eventually(lambda: bybit.health_now().reconnects >= 1, what="a reconnect")
        n = len(trades)
        await watch.matches(sim)
        await eventually(lambda: len(trades) > n, what="trades after the reconnect")
        assert bybit.health_now().state == "connected"


async def test_silent_server_is_detected_by_the_pong_deadline(sim: Simulator) -> None:
    async with fast_client(sim) as bybit:
        watch = BookWatch()
        bybit.orderbook("BTCUSDT", depth=50).subscribe(watch)
        await eventually(lambda: len(watch.views) > 2)
        sim.faults.silent(path=LINEAR, on=True)
        await eventually(lambda: bybit.health_now().reconnects >= 1, what="the pong deadline to replace the socket")
        sim.faults.silent(path=LINEAR, on=False)
        assert "pong" in (bybit.health_now().last_error or "")
        await watch.matches(sim)


async def test_u_gap_resyncs_and_never_emits_the_broken_book(sim: Simulator) -> None:
    async with fast_client(sim) as bybit:
        watch = BookWatch()
        bybit.orderbook("BTCUSDT", depth=50).subscribe(watch)
        await eventually(lambda: len(watch.views) > 2)
        sim.faults.skip_delta("linear", TOPIC)
        await eventually(lambda: bybit.health_now().resyncs >= 1, what="a resync")
        await watch.matches(sim)
        # every emitted view either follows its predecessor by one or is a fresh snapshot
        health = bybit.health_now()
        assert health.topics["linear", TOPIC].resyncs >= 1
        assert health.reconnects == 0


async def test_u_equals_one_restart_replaces_the_book(sim: Simulator) -> None:
    async with fast_client(sim) as bybit:
        watch = BookWatch()
        bybit.orderbook("BTCUSDT", depth=50).subscribe(watch)
        await eventually(lambda: len(watch.views) > 2)
        before = len(watch.views)
        resyncs = bybit.health_now().resyncs
        sim.faults.restart_book("linear", "BTCUSDT")
        await eventually(lambda: any(v.u == 1 for v in watch.views[before:]), what="the u == 1 snapshot")
        await watch.matches(sim)
        assert bybit.health_now().resyncs == resyncs + 1


async def test_malformed_frame_is_counted_and_the_stream_goes_on(sim: Simulator) -> None:
    async with fast_client(sim) as bybit:
        watch = BookWatch()
        bybit.orderbook("BTCUSDT", depth=50).subscribe(watch)
        await eventually(lambda: len(watch.views) > 2)
        await sim.faults.send_malformed(path=LINEAR)
        await eventually(lambda: bybit.health_now().malformed >= 1, what="the malformed frame")
        n = len(watch.views)
        await eventually(lambda: len(watch.views) > n + 2, what="updates after the malformed frame")
        assert bybit.health_now().reconnects == 0
        await watch.matches(sim)


async def test_subscribe_rejection_reaches_only_that_topic(sim: Simulator) -> None:
    async with fast_client(sim) as bybit:
        sim.faults.reject_subscribe("orderbook.50.ETHUSDT", "error:handler not found,topic:orderbook.50.ETHUSDT")
        errors: list[Exception] = []
        bad = BookWatch()
        good = BookWatch()
        bybit.orderbook("ETHUSDT", depth=50).subscribe(bad, errors.append)
        bybit.orderbook("BTCUSDT", depth=50).subscribe(good)
        await eventually(lambda: bool(errors), what="the rejection")
        assert isinstance(errors[0], SubscriptionError)
        assert errors[0].topic == "orderbook.50.ETHUSDT"
        assert "handler not found" in errors[0].message
        await good.matches(sim)
        assert bad.views == []


async def test_unknown_symbol_is_rejected_by_the_exchange(sim: Simulator) -> None:
    async with fast_client(sim) as bybit:
        errors: list[Exception] = []
        bybit.trades("NOSUCHUSDT").subscribe(lambda t: None, errors.append)
        await eventually(lambda: bool(errors), what="handler not found")
        assert isinstance(errors[0], SubscriptionError) and "NOSUCHUSDT" in str(errors[0])


async def test_whole_server_restart(sim: Simulator) -> None:
    async with fast_client(sim) as bybit:
        watch = BookWatch()
        tickers: list[Any] = []
        bybit.orderbook("BTCUSDT", depth=50).subscribe(watch)
        bybit.ticker("BTCUSDT").subscribe(tickers.append)
        await eventually(lambda: len(watch.views) > 2 and bool(tickers))
        await sim.restart()
        await eventually(lambda: bybit.health_now().reconnects >= 1, what="a reconnect")
        n = len(tickers)
        await watch.matches(sim)
        await eventually(lambda: len(tickers) > n, what="tickers after the restart")


async def test_slow_and_failing_observers_do_not_hurt_the_others(sim: Simulator) -> None:
    async with fast_client(sim) as bybit:
        fast: list[Trade] = []
        slow: list[Trade] = []

        def slow_observer(t: Trade) -> None:
            import time

            time.sleep(0.002)
            slow.append(t)

        def broken(t: Trade) -> None:
            raise ValueError("bug in user code")

        bybit.trades("BTCUSDT").subscribe(broken)
        bybit.trades("BTCUSDT").subscribe(slow_observer)
        bybit.trades("BTCUSDT").subscribe(fast.append)
        await eventually(lambda: len(fast) > 30, what="30 trades")
        assert slow == fast[: len(slow)] and len(fast) - len(slow) <= 1
        assert [t.trade_id for t in fast] == list(dict.fromkeys(t.trade_id for t in fast))  # no duplicates
        assert "bug in user code" in (bybit.health_now().last_error or "")
        assert bybit.health_now().reconnects == 0


async def test_health_reports_rates_and_simulated_flag(sim: Simulator) -> None:
    async with rb.Bybit("sim", health_interval=0.1) as bybit:
        seen: list[rb.Health] = []
        bybit.health.subscribe(seen.append)
        bybit.trades("BTCUSDT").subscribe(lambda t: None)
        await eventually(lambda: any(h.msgs_per_s > 0 for h in seen), what="a message rate")
        h = seen[-1]
        assert h.simulated and h.network == "sim" and h.state == "connected"
        assert h.topics["linear", "publicTrade.BTCUSDT"].messages > 0
        assert h.last_message_age_s is not None and h.last_message_age_s < 5


async def test_awaiting_an_observable_and_close_completes_streams(sim: Simulator) -> None:
    from reactivex import operators as ops

    bybit = fast_client(sim)
    got = await bybit.trades("BTCUSDT").pipe(ops.take(3), ops.to_list())
    assert len(got) == 3 and all(isinstance(t, Trade) for t in got)
    done: list[str] = []
    bybit.ticker("BTCUSDT").subscribe(lambda t: None, on_completed=lambda: done.append("done"))
    assert sim.connections  # the client's socket, until it closes
    await bybit.close()
    assert done == ["done"]
    assert bybit.health_now().state == "closed"
    await eventually(lambda: not sim.connections, what="the simulator to see every socket closed")


async def test_unreachable_exchange_says_so_and_mentions_sim() -> None:
    bybit = rb.Bybit("ws://127.0.0.1:9", backoff=lambda: iter([0.01] * 2))
    bybit.trades("BTCUSDT").subscribe(lambda t: None)
    await eventually(lambda: bybit.health_now().last_error is not None, what="an error on health")
    error = bybit.health_now().last_error or ""
    assert "127.0.0.1:9" in error
    await bybit.close()


@pytest.mark.parametrize("category,symbol", [("spot", "BTCUSDT"), ("inverse", "BTCUSD"), ("option", None)])
async def test_other_categories_stream_books(sim: Simulator, category: str, symbol: str | None) -> None:
    async with fast_client(sim) as bybit:
        if symbol is None:
            symbol = sim.option_symbols()[0]
        depth = 25 if category == "option" else 50
        got: list[BookView] = []
        bybit.orderbook(symbol, depth=depth, category=category).subscribe(got.append)  # type: ignore[arg-type]
        await eventually(lambda: len(got) > 2, what=f"{category} book updates")
        assert got[-1].best_bid is not None and not got[-1].crossed


async def test_streams_of_the_simulator_are_labelled_simulated(sim: Simulator) -> None:
    from rxbybit import ops

    async with rb.Bybit("sim") as bybit:
        tape = bybit.trades("BTCUSDT").pipe(ops.to_frame(max_rows=100))
        assert getattr(bybit.trades("BTCUSDT"), "simulated", False) is True
        assert "SIMULATED" in repr(tape)
        tape.close()
    real = rb.Bybit("ws://127.0.0.1:9")
    assert getattr(real.trades("BTCUSDT"), "simulated", True) is False


async def test_health_now_has_rates_without_subscribing_to_health(sim: Simulator) -> None:
    async with fast_client(sim, health_interval=0.2) as bybit:
        bybit.trades("BTCUSDT").subscribe(lambda t: None)
        bybit.health_now()  # starts the rate window
        await eventually(lambda: bybit.health_now().msgs_per_s > 0, what="a message rate")


async def test_every_emission_happens_on_the_event_loop_thread(sim: Simulator) -> None:
    import threading

    loop_thread = threading.get_ident()
    threads: set[int] = set()
    async with fast_client(sim) as bybit:
        bybit.orderbook("BTCUSDT", depth=50).subscribe(lambda v: threads.add(threading.get_ident()))
        bybit.trades("BTCUSDT").subscribe(lambda t: threads.add(threading.get_ident()))
        bybit.health.subscribe(lambda h: threads.add(threading.get_ident()))
        await eventually(lambda: bybit.health_now().topics["linear", "publicTrade.BTCUSDT"].messages > 3)
    assert threads == {loop_thread}
