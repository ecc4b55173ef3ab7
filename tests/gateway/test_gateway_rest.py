"""The gateway on REST: ``/user/profile`` answers with the current balance at once, and ``/symbols``
lists the exchange's trading instruments with their tick and lot sizes."""

from __future__ import annotations

from decimal import Decimal

from rxbybit.gateway import Gateway, UserStore
from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET

from .conftest import Client, open_client, upstream_subscribed


async def test_profile_sends_the_current_balance_without_any_change(gateway: Gateway, store: UserStore) -> None:
    token = store.add("dora", DEMO_API_KEY, DEMO_API_SECRET)
    c = await open_client(gateway)
    try:
        ack = await c.request("authorization", {"accessToken": token, "fingerprint": "fp"})
        assert ack["type"] == "ack", ack
        assert (await c.request("/user/profile"))["type"] == "ack"
        first = await c.find(lambda m: m["type"] == "event" and m["path"] == "/user/profile",
                              what="the balance right after subscribing")
        assert first["data"]["accountType"] == "UNIFIED" and Decimal(str(first["data"]["totalEquity"])) > 0
        assert gateway.simulator is not None
        assert not gateway.simulator.engine.accounts[DEMO_API_KEY].orders, "no order, no fill: no balance push"
        await upstream_subscribed(gateway, "dora")
        await c.round_trip()
        assert len(c.events("/user/profile")) == 1, "one balance on subscribe, not one per source"
        second = await open_client(gateway)  # the same user again: the balance known, once
        try:
            ack = await second.request("authorization", {"accessToken": store.rotate("dora"), "fingerprint": "fp"})
            assert ack["type"] == "ack", ack
            assert (await second.request("/user/profile"))["type"] == "ack"
            await second.round_trip()
            await c.round_trip()
            assert [m["data"] for m in second.events("/user/profile")] == [first["data"]]
            assert len(c.events("/user/profile")) == 1
        finally:
            await second.close()
    finally:
        await c.close()


async def test_symbols_lists_the_exchanges_trading_instruments(gateway: Gateway, client: Client) -> None:
    assert (await client.request("/symbols"))["type"] == "ack"
    sim = gateway.simulator
    assert sim is not None
    expected = {("linear", s) for s in sim.universe["linear"]} | {("spot", s) for s in sim.universe["spot"]}
    full = await client.until(lambda m: m["path"] == "/symbols" and m["data"].get("event") == "list"
                              and len(m["data"]["symbols"]) == len(expected), what="the exchange's instruments")
    rows = full["data"]["symbols"]
    assert {(r["category"], r["symbol"]) for r in rows} == expected
    assert [(r["category"], r["symbol"]) for r in rows[:2]] == [("linear", "BTCUSDT"), ("spot", "ETHUSDT")]
    for r in rows:
        inst = sim.universe[r["category"]][r["symbol"]]
        assert r["tickSize"] == inst.px(inst.tick) and r["qtyStep"] == inst.qty(inst.lot)
        assert r["status"] == "Trading"


async def test_notifications_skip_orders_already_open_and_announce_changes_made_during_an_outage(
        gateway: Gateway, store: UserStore) -> None:
    sim = gateway.simulator
    assert sim is not None
    acct = sim.engine.accounts[DEMO_API_KEY]
    market = sim.markets["linear"]["BTCUSDT"]
    bid = market.book.best("Buy")
    assert bid is not None
    order = sim.engine.create(acct, "linear", {"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
                                               "qty": "0.01", "price": market.inst.px(bid - 50 * market.inst.tick)})
    sim.desk.route()
    c = await open_client(gateway)
    try:
        ack = await c.request("authorization", {"accessToken": store.add("dora", DEMO_API_KEY, DEMO_API_SECRET),
                                                "fingerprint": "fp"})
        assert ack["type"] == "ack", ack
        assert (await c.request("/user/notifications"))["type"] == "ack"
        assert (await c.request("/user/profile"))["type"] == "ack"
        await c.find(lambda m: m["type"] == "event" and m["path"] == "/user/profile", what="the balance")
        await upstream_subscribed(gateway, "dora")
        assert await sim.faults.drop_connections("/v5/private") == 1
        sim.engine.cancel(acct, "linear", {"symbol": "BTCUSDT", "orderId": order.order_id})
        sim.desk.route()  # the Cancelled push goes nowhere: the private socket is down
        note = await c.find(lambda m: m["path"] == "/user/notifications" and m["data"].get("kind") == "order"
                            and m["data"]["data"].get("orderId") == order.order_id,
                            what="the cancel made during the outage, announced after the reconnect")
        assert note["data"]["title"] == "Order cancelled"
        titles = [m["data"]["title"] for m in c.events("/user/notifications")
                  if m["data"]["data"].get("orderId") == order.order_id]
        assert titles == ["Order cancelled"], "the order open at subscribe time was not announced as placed"
    finally:
        await c.close()
