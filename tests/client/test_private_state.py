"""Private state from a REST snapshot plus the stream, reconciled after every private reconnect:
orders placed before the client started are there from the first second, and a fill that happens
while the private socket is down shows in the open-orders and positions frames after reconnect."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from helpers import eventually

import rxbybit as rb
from rxbybit.client.private_state import StateStreams, orders_kind, wallet_kind
from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET, Simulator
from rxbybit.transport import exponential_backoff

OTHER = ("SIMotherKEY", "SIMotherSECRETxxxxxxxxxxxxxxxxxxxxxxx")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(host="127.0.0.1", port=0, seed=9, symbols=("BTCUSDT", "ETHUSDT"), speed=1.0,
                         accounts=[OTHER]) as s:
        yield s


def private(sim: Simulator, **kw: Any) -> rb.Bybit:
    return rb.Bybit(sim.url, simulated=True, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET,
                    ping_interval=0.2, pong_timeout=0.5, **kw)


def resting_buy(sim: Simulator, symbol: str = "ETHUSDT", qty: str = "0.5") -> str:
    """A demo-account limit buy joined at the best bid, placed on the engine; returns its orderId."""
    acct = sim.engine.accounts[DEMO_API_KEY]
    market = sim.markets["linear"][symbol]
    bid = market.book.best("Buy")
    assert bid is not None
    order = sim.engine.create(acct, "linear", {"symbol": symbol, "side": "Buy", "orderType": "Limit",
                                               "qty": qty, "price": market.inst.px(bid)})
    sim.desk.route()
    return order.order_id


def sweep_bids(sim: Simulator, symbol: str = "ETHUSDT", qty: str = "50.0") -> None:
    """Another account sells at market through the best bid (user orders there fill first)."""
    other = sim.engine.accounts[OTHER[0]]
    sim.engine.create(other, "linear", {"symbol": symbol, "side": "Sell", "orderType": "Market", "qty": qty})
    sim.desk.route()


async def test_state_that_existed_before_the_client_is_there_from_the_first_second(sim: Simulator) -> None:
    oid = resting_buy(sim)
    async with private(sim) as bybit:
        orders = rb.frames.open_orders(bybit.orders("linear", snapshot=True))
        wallet = rb.frames.balances(bybit.wallet(snapshot=True))
        await eventually(lambda: len(orders) == 1 and len(wallet) > 0, what="the snapshot in the frames")
        assert list(orders.rows) == [(oid,)]
        assert orders.rows[(oid,)]["orderStatus"] == "New"
        usdt = wallet.rows[("USDT",)]
        assert Decimal(usdt["locked"]) > 0, "the order's margin shows as locked from the start"
        plain = rb.frames.open_orders(bybit.orders("linear"))
        await bybit.wait_subscribed()
        assert len(plain) == 0, "without a snapshot Bybit's stream starts empty"


async def test_a_fill_during_a_private_outage_appears_after_reconnect(sim: Simulator) -> None:
    oid = resting_buy(sim, qty="0.5")
    backoff = exponential_backoff(initial=0.3, maximum=0.3)
    async with private(sim, backoff=backoff) as bybit:
        orders_seen: list[Any] = []
        orders_stream = bybit.orders("linear", snapshot=True)
        sub = orders_stream.subscribe(orders_seen.append)
        orders = rb.frames.open_orders(bybit.orders("linear", snapshot=True))
        positions = rb.frames.positions(bybit.positions("linear", snapshot=True))
        await eventually(lambda: len(orders) == 1, what="the open order from the snapshot")
        await bybit.wait_subscribed()
        assert len(positions) == 0
        assert bybit.health_now().reconciliations == 0

        assert await sim.faults.drop_connections("/v5/private") == 1
        sweep_bids(sim)  # fills our order while the private socket is down: its pushes are lost
        assert sim.engine.accounts[DEMO_API_KEY].orders == {}, "the order filled in the exchange"
        assert len(orders) == 1, "nothing streamed the fill"

        await eventually(lambda: len(orders) == 0, what="the filled order gone after reconnect")
        await eventually(lambda: len(positions) == 1, what="the new position after reconnect")
        pos = next(iter(positions.rows.values()))
        assert pos["symbol"] == "ETHUSDT" and pos["side"] == "Buy" and Decimal(pos["size"]) == Decimal("0.5")
        await eventually(lambda: any(r["orderId"] == oid and r["orderStatus"] == "Filled" for r in orders_seen),
                         what="the Filled row emitted as if it had streamed")
        await eventually(lambda: bybit.health_now().reconciliations >= 3, what="three streams reconciled")
        sub.dispose()


async def test_live_changes_during_the_snapshot_read_are_not_lost_or_reverted(sim: Simulator) -> None:
    async with private(sim) as bybit:
        seen: list[Any] = []
        sub = bybit.orders("linear", snapshot=True).subscribe(seen.append)
        await bybit.wait_subscribed()
        oid = resting_buy(sim, qty="0.2")
        await eventually(lambda: any(r["orderId"] == oid for r in seen), what="the new order")
        sweep_bids(sim)
        await eventually(lambda: seen[-1]["orderStatus"] == "Filled", what="the fill")
        sub.dispose()
    statuses = [r["orderStatus"] for r in seen if r["orderId"] == oid]
    assert statuses[0] == "New" and statuses[-1] == "Filled"


def test_merge_orders_by_update_time_and_wallet_by_arrival() -> None:
    hub = StateStreams(lambda: None, lambda t: True, lambda n, e: None, lambda: None)  # type: ignore[arg-type,return-value]
    from rxbybit.client.private_state import _Subscriber

    class Sink:
        def __init__(self) -> None:
            self.rows: list[Any] = []

        def on_next(self, v: Any) -> None:
            self.rows.append(v)

    sub = _Subscriber(hub, orders_kind("linear"), "order.linear", Sink())  # type: ignore[arg-type]
    snap = {("a",): {"orderId": "a", "updatedTime": "10", "orderStatus": "New"},
            ("b",): {"orderId": "b", "updatedTime": "10", "orderStatus": "New"}}
    held = [(False, {"orderId": "a", "updatedTime": "12", "orderStatus": "PartiallyFilled"}),
            (False, {"orderId": "b", "updatedTime": "5", "orderStatus": "New"})]
    out = sub._merge(snap, [], held, initial=True)
    assert [(r["orderId"], r["updatedTime"]) for r in out] == [("b", "10"), ("a", "12")]

    wallet = _Subscriber(hub, wallet_kind(), "wallet", Sink())  # type: ignore[arg-type]
    snap_w = {("UNIFIED",): {"accountType": "UNIFIED", "totalEquity": "2"}}
    held_w = [(False, {"accountType": "UNIFIED", "totalEquity": "1"}),
              (True, {"accountType": "UNIFIED", "totalEquity": "3"})]
    out_w = wallet._merge(snap_w, [], held_w, initial=True)
    assert [r["totalEquity"] for r in out_w] == ["2", "3"]


async def test_rest_down_leaves_the_private_stream_live(sim: Simulator) -> None:
    sim.rest.faults.down = True
    async with private(sim) as bybit:
        bybit.rest.retry = type(bybit.rest.retry)(attempts=1)
        seen: list[Any] = []
        sub = bybit.orders("linear", snapshot=True).subscribe(seen.append)
        await eventually(lambda: "503" in (bybit.health_now().last_error or ""), what="the snapshot failure on health")
        oid = resting_buy(sim, qty="0.2")
        await eventually(lambda: any(r["orderId"] == oid for r in seen), what="the live order push")
        sub.dispose()
