"""Private state from a REST snapshot plus the stream, reconciled after every private reconnect:
orders placed before the client started are there from the first second, and a fill that happens
while the private socket is down shows in the open-orders and positions frames after reconnect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from helpers import eventually

import rxbybit as rb
from rxbybit.client.private_state import (
    RECONCILE,
    SNAPSHOT,
    SOURCE,
    StateStreams,
    is_snapshot_row,
    orders_kind,
    positions_kind,
    wallet_kind,
)
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
        # the default: no argument needed for a frame that starts from the truth
        orders = rb.frames.open_orders(bybit.orders("linear"))
        wallet = rb.frames.balances(bybit.wallet())
        await eventually(lambda: len(orders) == 1 and len(wallet) > 0, what="the snapshot in the frames")
        assert list(orders.rows) == [(oid,)]
        assert orders.rows[(oid,)]["orderStatus"] == "New"
        assert orders.rows[(oid,)][SOURCE] == SNAPSHOT, "a snapshot row says what it is"
        usdt = wallet.rows[("USDT",)]
        assert Decimal(usdt["locked"]) > 0, "the order's margin shows as locked from the start"
        plain = rb.frames.open_orders(bybit.orders("linear", snapshot=False))
        await bybit.wait_subscribed()
        assert len(plain) == 0, "with snapshot=False Bybit's bare stream starts empty"


async def test_a_fill_during_a_private_outage_appears_after_reconnect(sim: Simulator) -> None:
    oid = resting_buy(sim, qty="0.5")
    backoff = exponential_backoff(initial=0.3, maximum=0.3)
    async with private(sim, backoff=backoff) as bybit:
        orders_seen: list[Any] = []
        sub = bybit.orders("linear").subscribe(orders_seen.append)
        orders = rb.frames.open_orders(bybit.orders("linear"))
        positions = rb.frames.positions(bybit.positions("linear"))
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
        filled = next(r for r in orders_seen if r["orderId"] == oid and r["orderStatus"] == "Filled")
        assert filled[SOURCE] == RECONCILE, "a change read after a reconnect is an event, marked as such"
        assert [r[SOURCE] for r in orders_seen if r["orderId"] == oid] == [SNAPSHOT, RECONCILE]
        await eventually(lambda: bybit.health_now().reconciliations >= 3, what="three streams reconciled")
        sub.dispose()


async def test_live_changes_during_the_snapshot_read_are_not_lost_or_reverted(sim: Simulator) -> None:
    async with private(sim) as bybit:
        seen: list[Any] = []
        sub = bybit.orders("linear").subscribe(seen.append)
        await bybit.wait_subscribed()
        oid = resting_buy(sim, qty="0.2")
        await eventually(lambda: any(r["orderId"] == oid for r in seen), what="the new order")
        sweep_bids(sim)
        await eventually(lambda: seen[-1]["orderStatus"] == "Filled", what="the fill")
        sub.dispose()
    statuses = [r["orderStatus"] for r in seen if r["orderId"] == oid]
    assert statuses[0] == "New" and statuses[-1] == "Filled"
    assert not any(SOURCE in r for r in seen if r["orderId"] == oid), "streamed rows are Bybit's, unmarked"


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
        sub = bybit.orders("linear").subscribe(seen.append)
        await eventually(lambda: "503" in (bybit.health_now().last_error or ""), what="the snapshot failure on health")
        assert "live-only" in (bybit.health_now().last_error or ""), "health says the stream went on without it"
        oid = resting_buy(sim, qty="0.2")
        await eventually(lambda: any(r["orderId"] == oid for r in seen), what="the live order push")
        sub.dispose()


async def test_counting_creates_skips_orders_that_were_open_before(sim: Simulator) -> None:
    """Code that counts new orders sees none for the open orders of the snapshot, one per real create."""
    before = [resting_buy(sim, qty="0.1"), resting_buy(sim, qty="0.2")]
    async with private(sim) as bybit:
        seen: list[Any] = []
        sub = bybit.orders("linear").subscribe(seen.append)
        await eventually(lambda: {r["orderId"] for r in seen} == set(before), what="the two open orders")
        assert all(is_snapshot_row(r) for r in seen)
        await bybit.wait_subscribed()
        created = resting_buy(sim, qty="0.3")
        await eventually(lambda: any(r["orderId"] == created for r in seen), what="the live create")
        sub.dispose()
    creates = [r["orderId"] for r in seen if r["orderStatus"] == "New" and not is_snapshot_row(r)]
    assert creates == [created]


def test_a_reconcile_emits_only_what_changed_during_the_outage() -> None:
    hub = StateStreams(lambda: None, lambda t: True, lambda n, e: None, lambda: None)  # type: ignore[arg-type,return-value]
    from rxbybit.client.private_state import _Subscriber

    class Sink:
        def on_next(self, v: Any) -> None:
            pass

    sub = _Subscriber(hub, orders_kind("linear"), "order.linear", Sink())  # type: ignore[arg-type]
    # streamed rows and REST rows of the same state differ in fields (REST adds some, the stream others)
    sub._emit({"orderId": "a", "updatedTime": "10", "orderStatus": "New", "createType": "CreateByUser"})
    sub._emit({"orderId": "b", "updatedTime": "10", "orderStatus": "New"})
    snap = {("a",): {"orderId": "a", "updatedTime": "10", "orderStatus": "New", "category": "linear"},
            ("b",): {"orderId": "b", "updatedTime": "11", "orderStatus": "PartiallyFilled", "category": "linear"},
            ("c",): {"orderId": "c", "updatedTime": "12", "orderStatus": "New", "category": "linear"}}
    out = sub._merge(snap, [], [], initial=False)
    assert [(r["orderId"], r[SOURCE]) for r in out] == [("b", RECONCILE), ("c", RECONCILE)]

    pos = _Subscriber(hub, positions_kind("linear"), "position.linear", Sink())  # type: ignore[arg-type]
    row = {"category": "linear", "symbol": "X", "positionIdx": 0, "size": "1", "updatedTime": "5", "markPrice": "1"}
    pos._emit(row)
    moved = {**row, "markPrice": "2"}  # a REST read shows a newer mark price, not a change of the position
    assert pos._merge({pos.kind.key(row): moved}, [], [], initial=False) == []
    first = pos._merge({pos.kind.key(row): moved}, [], [], initial=True)
    assert first == [{**moved, SOURCE: SNAPSHOT}]

    wallet = _Subscriber(hub, wallet_kind(), "wallet", Sink())  # type: ignore[arg-type]
    w = {"accountType": "UNIFIED", "totalEquity": "2"}
    wallet._emit({**w, SOURCE: SNAPSHOT})
    assert wallet._merge({("UNIFIED",): w}, [], [], initial=False) == []
    assert wallet._merge({("UNIFIED",): {**w, "totalEquity": "3"}}, [], [], initial=False)[0][SOURCE] == RECONCILE


async def test_a_base_url_without_rest_goes_on_live_only_and_says_so() -> None:
    """A plain Bybit-like socket server with no REST: the stream is not held up, health says why."""
    import json

    from websockets.asyncio.server import ServerConnection, serve

    async def handler(ws: ServerConnection) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("op") == "auth":
                await ws.send(json.dumps({"success": True, "ret_msg": "", "op": "auth", "conn_id": "c1"}))
            elif msg.get("op") == "subscribe":
                await ws.send(json.dumps({"success": True, "ret_msg": "", "op": "subscribe", "conn_id": "c1",
                                          "req_id": msg.get("req_id")}))
                row = {"orderId": "live-1", "orderStatus": "New", "updatedTime": "1", "symbol": "BTCUSDT"}
                await ws.send(json.dumps({"topic": "order", "id": "1", "creationTime": 1, "data": [row]}))
            elif msg.get("op") == "ping":
                await ws.send(json.dumps({"success": True, "ret_msg": "pong", "op": "ping", "conn_id": "c1"}))

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with rb.Bybit(f"ws://127.0.0.1:{port}", api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET) as bybit:
            bybit.rest.retry = type(bybit.rest.retry)(attempts=1)
            seen: list[Any] = []
            sub = bybit.orders().subscribe(seen.append)
            await eventually(lambda: [r["orderId"] for r in seen] == ["live-1"], what="the live row")
            assert SOURCE not in seen[0]
            assert "live-only" in (bybit.health_now().last_error or ""), bybit.health_now().last_error
            sub.dispose()


async def test_disposing_as_the_ack_arrives_stops_the_snapshot_read(sim: Simulator) -> None:
    """The observer leaves in the very iteration the ack wakes the read (Python 3.11's ``wait_for``
    can swallow that cancel): the read must not go on, nor fail on the closed client."""
    bybit = private(sim)
    seen: list[Any] = []
    sub = bybit.orders("linear").subscribe(seen.append)
    (task,) = [t for t in asyncio.all_tasks() if t.get_name() == "rxbybit-state-order.linear"]
    await bybit.wait_subscribed()  # wakes before the read does: the read is woken, not yet resumed
    sub.dispose()
    await bybit.close()
    (outcome,) = await asyncio.gather(task, return_exceptions=True)
    assert outcome is None or isinstance(outcome, asyncio.CancelledError), repr(outcome)
    assert seen == []
