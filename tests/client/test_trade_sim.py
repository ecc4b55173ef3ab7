"""Trading over the WS trade API and the private streams, against the simulator's matching engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from decimal import Decimal
from typing import Any

import pytest
from helpers import eventually

import rxbybit as rb
from rxbybit.client.private_state import is_snapshot_row
from rxbybit.errors import (
    AuthenticationError,
    OrderStatusUnknownError,
    TradeError,
)
from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET, Simulator

from .conftest import fast_client

Item = Mapping[str, Any]


@pytest.fixture
async def trader(sim: Simulator) -> AsyncIterator[rb.Bybit]:
    async with fast_client(sim, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET) as bybit:
        yield bybit


def pushes(into: list[Item]) -> Callable[[Item], None]:
    def add(row: Item) -> None:
        if not is_snapshot_row(row):
            into.append(row)

    return add


class Private:
    """Collects the pushes of the private streams and waits until Bybit has confirmed the subscriptions.

    The rows a REST snapshot starts a stream with are state, not pushes: they are left out, so
    "a wallet push" means one the exchange sent.
    """

    def __init__(self, bybit: rb.Bybit) -> None:
        self.orders: list[Item] = []
        self.executions: list[Item] = []
        self.positions: list[Item] = []
        self.wallet: list[Item] = []
        bybit.orders().subscribe(pushes(self.orders))
        bybit.executions().subscribe(pushes(self.executions))
        bybit.positions().subscribe(pushes(self.positions))
        bybit.wallet().subscribe(pushes(self.wallet))
        self._bybit = bybit

    async def ready(self) -> None:
        await self._bybit.wait_subscribed()

    def order_states(self, link: str) -> list[str]:
        return [str(o["orderStatus"]) for o in self.orders if o.get("orderLinkId") == link]


async def best(bybit: rb.Bybit, symbol: str = "BTCUSDT") -> tuple[float, float]:
    from reactivex import operators as ops

    book = await bybit.orderbook(symbol, depth=50).pipe(ops.take(1))
    assert book.best_bid is not None and book.best_ask is not None
    return book.best_bid[0], book.best_ask[0]


async def test_full_order_lifecycle_create_amend_cancel(trader: rb.Bybit) -> None:
    private = Private(trader)
    await private.ready()
    bid, _ = await best(trader)
    price = f"{round(bid * 0.9, 1)}"
    ack = await trader.trade.create_order(category="linear", symbol="BTCUSDT", side="Buy", order_type="Limit",
                                          qty="0.01", price=price)
    assert ack.order_id and ack.order_link_id.startswith("rx-")  # generated when the caller gives none
    assert ack.rate_limit is not None and ack.rate_limit_remaining is not None
    link = ack.order_link_id
    await eventually(lambda: "New" in private.order_states(link), what="the New order push")
    new_price = f"{round(bid * 0.8, 1)}"
    amended = await trader.trade.amend_order(category="linear", symbol="BTCUSDT", order_link_id=link, price=new_price)
    assert amended.order_id == ack.order_id
    await eventually(lambda: any(Decimal(o.get("price") or 0) == Decimal(new_price)  # Bybit pads to 2 decimals
                                 for o in private.orders if o["orderLinkId"] == link),
                     what="the amended price on the order stream")
    await trader.trade.cancel_order(category="linear", symbol="BTCUSDT", order_id=ack.order_id)
    await eventually(lambda: "Cancelled" in private.order_states(link), what="the Cancelled push")
    assert private.positions, "every create/amend/cancel pushes a position"
    with pytest.raises(TradeError) as info:
        await trader.trade.cancel_order(category="linear", symbol="BTCUSDT", order_id=ack.order_id)
    assert info.value.code == 110001


async def test_market_order_fills_and_updates_position_and_wallet(trader: rb.Bybit) -> None:
    private = Private(trader)
    await private.ready()
    ack = await trader.trade.create_order(category="linear", symbol="BTCUSDT", side="Buy", order_type="Market",
                                          qty="0.05")
    link = ack.order_link_id
    await eventually(lambda: "Filled" in private.order_states(link), what="the fill")
    fills = [e for e in private.executions if e["orderLinkId"] == link]
    assert fills and sum(float(e["execQty"]) for e in fills) == pytest.approx(0.05)
    assert all(float(e["execFee"]) > 0 for e in fills)
    await eventually(lambda: any(p.get("symbol") == "BTCUSDT" and float(p["size"]) > 0 for p in private.positions),
                     what="a long position")
    await eventually(lambda: bool(private.wallet), what="a wallet push")
    assert private.wallet[-1]["accountType"] == "UNIFIED"


async def test_partial_fill_of_an_ioc_order(trader: rb.Bybit) -> None:
    from reactivex import operators as ops

    private = Private(trader)
    await private.ready()
    book = await trader.orderbook("BTCUSDT", depth=50).pipe(ops.take(1))
    levels = book.asks(3)
    # a marketable IOC limit through three ask levels for three times what they hold: part fills, the rest cancels
    qty = round(3 * sum(size for _, size in levels) + 0.1, 3)
    ack = await trader.trade.create_order(category="linear", symbol="BTCUSDT", side="Buy", order_type="Limit",
                                          qty=f"{qty}", price=f"{levels[-1][0]}", time_in_force="IOC")
    link = ack.order_link_id
    # derivatives report the cancelled remainder as Cancelled with a non-zero cumExecQty (spot would say
    # PartiallyFilledCanceled)
    await eventually(lambda: bool({"Cancelled", "PartiallyFilledCanceled"} & set(private.order_states(link))),
                     what="the IOC remainder cancelled")
    last = [o for o in private.orders if o["orderLinkId"] == link][-1]
    assert 0 < float(last["cumExecQty"]) < qty


@pytest.mark.parametrize(
    "params,code",
    [
        ({"qty": "0", "order_type": "Market"}, 10001),
        ({"qty": "0.01", "order_type": "Limit", "price": "-5"}, 110003),
        ({"qty": "100000", "order_type": "Market"}, 110007),
    ],
)
async def test_rejections_become_typed_errors(trader: rb.Bybit, params: dict[str, str], code: int) -> None:
    errors: list[Exception] = []
    trader.trade.errors.subscribe(errors.append)
    with pytest.raises(TradeError) as info:
        await trader.trade.create_order(category="linear", symbol="BTCUSDT", side="Buy", **params)
    assert info.value.code == code and info.value.message
    assert info.value.order_link_id and info.value.order_link_id.startswith("rx-")
    assert errors == [info.value]


async def test_rate_limit_is_a_typed_error_and_headers_are_exposed() -> None:
    async with Simulator(seed=3, rate_limit=2) as sim, \
            fast_client(sim, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET) as bybit:
            results = await asyncio.gather(
                *(bybit.trade.cancel_order(category="linear", symbol="BTCUSDT", order_id=f"nope-{i}")
                  for i in range(6)),
                return_exceptions=True,
            )
            codes = sorted(r.code for r in results if isinstance(r, TradeError))
            assert 10006 in codes and 110001 in codes


async def test_deadline_expiry_reports_status_unknown_with_the_order_link_id(sim: Simulator, trader: rb.Bybit) -> None:
    private = Private(trader)
    await private.ready()
    await trader.trade.connect()
    trader.trade.timeout = 0.3
    sim.faults.stall(path="/v5/trade", seconds=1.0)
    bid, _ = await best(trader)
    with pytest.raises(OrderStatusUnknownError) as info:
        await trader.trade.create_order(category="linear", symbol="BTCUSDT", side="Buy", order_type="Limit",
                                        qty="0.01", price=f"{round(bid * 0.9, 1)}", order_link_id="reconcile-me")
    assert info.value.order_link_id == "reconcile-me"
    assert "orders()" in str(info.value)
    # the order did reach the exchange: the caller reconciles from the order stream
    await eventually(lambda: "New" in private.order_states("reconcile-me"), what="the order on the stream")


async def test_disconnect_mid_request_fails_pending_requests_at_once(sim: Simulator, trader: rb.Bybit) -> None:
    await trader.trade.connect()
    trader.trade.timeout = 30.0
    sim.faults.stall(path="/v5/trade", seconds=5.0)
    task = asyncio.ensure_future(trader.trade.cancel_order(category="linear", symbol="BTCUSDT", order_id="x"))
    await eventually(lambda: trader.trade.pending == 1, what="the request in flight")
    started = asyncio.get_running_loop().time()
    await sim.faults.drop_connections(path="/v5/trade")
    with pytest.raises(OrderStatusUnknownError, match="connection"):
        await task
    assert asyncio.get_running_loop().time() - started < 3.0
    assert trader.trade.pending == 0


async def test_thousand_concurrent_requests_are_correlated(sim: Simulator) -> None:
    async with Simulator(seed=5, rate_limit=100_000, speed=1.0) as big, \
            fast_client(big, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET) as bybit:
            bybit.trade.timeout = 60.0  # a loaded 2-core CI machine may take a while for 1,000 orders
            bybit.trade.recv_window_ms = 60_000  # ... longer than Bybit's default 5 s freshness window
            bid, _ = await best(bybit)
            price = f"{round(bid * 0.5, 1)}"
            links = [f"c-{i}" for i in range(1000)]
            acks = await asyncio.gather(*(
                bybit.trade.create_order(category="linear", symbol="BTCUSDT", side="Buy", order_type="Limit",
                                         qty="0.001", price=price, order_link_id=link, time_in_force="PostOnly")
                for link in links
            ), return_exceptions=True)
            errors = [a for a in acks if isinstance(a, Exception)]
            # the engine caps active orders at 500 (110020 beyond); every reply must belong to its own request
            for link, ack in zip(links, acks, strict=True):
                if isinstance(ack, TradeError):
                    assert ack.order_link_id == link
                else:
                    assert not isinstance(ack, BaseException)
                    assert ack.order_link_id == link
            assert len(acks) - len(errors) >= 500


async def test_batch_orders_report_each_item(trader: rb.Bybit) -> None:
    bid, _ = await best(trader)
    good = {"symbol": "BTCUSDT", "side": "Buy", "order_type": "Limit", "qty": "0.01", "price": f"{round(bid * 0.9, 1)}"}
    bad = {**good, "qty": "0"}
    batch = await trader.trade.create_orders("linear", [good, bad])
    assert [item.ok for item in batch.items] == [True, False]
    assert batch.items[1].code == 10001
    cancel = await trader.trade.cancel_orders("linear", [{"symbol": "BTCUSDT", "order_id": batch.items[0].order_id}])
    assert cancel.items[0].ok


async def test_observable_form_and_shared_responses(trader: rb.Bybit) -> None:
    seen: list[Any] = []
    trader.trade.responses.subscribe(seen.append)
    with pytest.raises(TradeError) as info:
        await trader.trade.submit("order.cancel", {"category": "linear", "symbol": "BTCUSDT", "orderId": "none"})
    assert info.value.code == 110001
    assert [r.ret_code for r in seen] == [110001]  # fire-and-forget listeners see every reply


async def test_bad_credentials_fail_private_streams_and_trading(sim: Simulator) -> None:
    async with fast_client(sim, api_key=DEMO_API_KEY, api_secret="wrong-secret") as bybit:
        errors: list[Exception] = []
        bybit.orders().subscribe(lambda o: None, errors.append)
        await eventually(lambda: bool(errors), what="the auth failure")
        assert isinstance(errors[0], AuthenticationError)
        assert "wrong-secret" not in str(errors[0])
        with pytest.raises(AuthenticationError):
            await bybit.trade.connect()


async def test_demo_network_has_no_ws_trade_api() -> None:
    bybit = rb.Bybit("demo", api_key="k", api_secret="s")
    with pytest.raises(ValueError, match="not available on the demo network"):
        await bybit.trade.create_order(category="linear", symbol="BTCUSDT", side="Buy", order_type="Market", qty="1")




async def test_wait_subscribed_and_health_say_when_private_topics_are_live(trader: rb.Bybit) -> None:
    trader.orders().subscribe(lambda o: None)
    trader.wallet().subscribe(lambda o: None)
    await trader.wait_subscribed(timeout=10)
    topics = trader.health_now().topics
    assert topics["private", "order"].subscribed and topics["private", "wallet"].subscribed


async def test_all_in_one_and_categorised_private_topics_survive_a_reconnect(sim: Simulator, trader: rb.Bybit) -> None:
    errors: list[Exception] = []
    trader.orders().subscribe(lambda o: None, errors.append)
    trader.orders("linear").subscribe(lambda o: None, errors.append)
    await trader.wait_subscribed()
    await sim.faults.drop_connections(path="/v5/private")
    await eventually(lambda: trader.health_now().reconnects >= 1, what="a reconnect")
    await trader.wait_subscribed()  # both resubscribed, in separate requests
    assert errors == []


async def test_the_simulators_reqid_less_denial_and_10019_reach_the_caller_typed(sim: Simulator,
                                                                                trader: rb.Bybit) -> None:
    from rxbybit.errors import TradeServiceRestartingError

    await trader.trade.connect()
    trader.trade.timeout = 30.0
    bid, _ = await best(trader)
    order = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "order_type": "Limit", "qty": "0.001",
             "price": f"{round(bid * 0.5, 1)}", "time_in_force": "PostOnly"}
    loop = asyncio.get_running_loop()
    sim.faults.deny_trade_requests(1)
    started = loop.time()
    with pytest.raises(TradeError) as denied:
        await trader.trade.create_order(**order, order_link_id="denied")
    assert denied.value.code == 10005 and denied.value.order_link_id == "denied"
    assert loop.time() - started < 5.0  # not the 30 s deadline
    first = trader._pool.get("trade")
    sim.faults.trade_restarting(True)
    with pytest.raises(TradeServiceRestartingError) as restarting:  # refused on the old socket and the new one
        await trader.trade.create_order(**order, order_link_id="restart")
    assert restarting.value.retryable and restarting.value.order_link_id == "restart"
    sim.faults.trade_restarting(False)
    ack = await trader.trade.create_order(**order, order_link_id="restart")  # the user's retry, same id
    assert ack.order_link_id == "restart"
    assert trader._pool.get("trade") is not first
