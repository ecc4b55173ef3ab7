"""``await bybit.instruments(category)``: typed, cached, and the trade client's tick and lot checks."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

import rxbybit as rb
from rxbybit.client.instruments import checked_order
from rxbybit.errors import OrderValidationError
from rxbybit.protocol.instruments import InstrumentInfo, check_order, round_order
from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET, Simulator

BTC = InstrumentInfo("linear", "BTCUSDT", "Trading", "BTC", "USDT", "USDT", Decimal("0.1"), Decimal("0.001"),
                     Decimal("0.001"), Decimal("100"), Decimal("5"))


def test_rules_name_the_tick_and_the_lot() -> None:
    check_order(BTC, price="60000.1", qty="0.002")
    with pytest.raises(OrderValidationError, match=r"tick size 0\.1"):
        check_order(BTC, price="60000.15", qty="0.002")
    with pytest.raises(OrderValidationError, match=r"lot size 0\.001"):
        check_order(BTC, price="60000.1", qty="0.0015")
    with pytest.raises(OrderValidationError, match="minimum notional 5"):
        check_order(BTC, price="1000", qty="0.001")
    with pytest.raises(OrderValidationError, match="above the maximum quantity"):
        check_order(BTC, qty="101")
    with pytest.raises(OrderValidationError, match="floats are inexact"):
        check_order(BTC, price=60000.1)
    assert round_order(BTC, price="60000.16", qty="0.0019") == ("60000.2", "0.001")


def test_round_mode_rounds_then_checks() -> None:
    body = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "price": "60000.04",
            "qty": "0.0029"}
    assert checked_order(BTC, body, "round") | {} == {**body, "price": "60000.0", "qty": "0.002"}
    with pytest.raises(OrderValidationError, match="rounds to 0"):
        checked_order(BTC, {**body, "qty": "0.0004"}, "round")
    market = {**body, "orderType": "Market", "price": "1.23", "qty": "0.002"}
    assert checked_order(BTC, market)["price"] == "1.23", "a market order's price is not checked"


async def test_instruments_are_typed_cached_and_match_the_simulator(sim: Simulator) -> None:
    async with rb.Bybit(sim.url, simulated=True) as bybit:
        linear = await bybit.instruments("linear")
        again = await bybit.instruments("linear")
        assert again is linear and bybit.rest.requests == 1, "cached"
        spot = await bybit.instruments("spot")
        await bybit.instruments("linear", refresh=True)
        assert bybit.rest.requests == 3
    assert set(linear) == set(sim.universe["linear"]) and set(spot) == set(sim.universe["spot"])
    for sym, info in linear.items():
        inst = sim.universe["linear"][sym]
        assert info.tick_size == Decimal(inst.px(inst.tick)) and info.qty_step == Decimal(inst.qty(inst.lot))
        assert info.trading and info.settle == "USDT"
    with pytest.raises(ValueError, match="category"):
        await rb.Bybit(sim.url).instruments("futures")  # type: ignore[arg-type]


async def test_the_trade_client_checks_orders_before_sending(sim: Simulator) -> None:
    async with rb.Bybit(sim.url, simulated=True, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET) as bybit:
        info = (await bybit.instruments("linear"))["ETHUSDT"]
        book = await bybit.rest.orderbook("linear", "ETHUSDT", limit=1)
        low = Decimal(book["b"][0][0]) * Decimal("0.8")
        off_tick = str(low.quantize(info.tick_size) + info.tick_size / 2)
        bybit.check_orders("validate")
        sent = bybit.trade.pending
        with pytest.raises(OrderValidationError, match=re.escape(f"tick size {info.tick_size}")):
            await bybit.trade.create_order(category="linear", symbol="ETHUSDT", side="Buy", order_type="Limit",
                                           qty="0.10", price=off_tick)
        assert bybit.trade.pending == sent and not sim.engine.accounts[DEMO_API_KEY].orders, "nothing was sent"
        bybit.check_orders("round")
        ack = await bybit.trade.create_order(category="linear", symbol="ETHUSDT", side="Buy", order_type="Limit",
                                             qty="0.1049", price=off_tick)
        order = sim.engine.accounts[DEMO_API_KEY].orders[ack.order_id]
        assert Decimal(order.inst.qty(order.qty)) == Decimal("0.1")
        assert Decimal(order.inst.px(order.price)) % info.tick_size == 0
        bybit.check_orders(None)
        assert bybit.trade.check is None
