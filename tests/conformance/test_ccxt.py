"""ccxt.pro's bybit client against the simulator: only its URLs changed, its markets set by hand.

The simulator serves no REST, so nothing may make ccxt call it: markets come from
:func:`thirdparty.ccxt_markets`, the unified-account flags are set in ``options`` (ccxt would ask
REST), and the loopback guard fails any call that tries to leave the machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import ccxt.pro
import pytest
from ccxt.base.errors import ExchangeError, InsufficientFunds
from helpers import eventually, scaled
from thirdparty import ccxt_markets, ccxt_ws_urls, mid_price

from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET, Simulator


def make_exchange(sim: Simulator, **config: Any) -> Any:
    """A ccxt.pro bybit client on the simulator (URLs and markets only)."""
    ex = ccxt.pro.bybit({"enableRateLimit": False, **config})
    ex.urls["api"]["ws"] = ccxt_ws_urls(sim)
    ex.urls["api"]["rest"] = "http://127.0.0.1:9"  # never used; loopback so a slip fails fast
    ex.options["enableUnifiedAccount"] = True  # else ccxt asks REST which account type this is
    ex.options["enableUnifiedMargin"] = False
    ex.options["watchPositions"] = {"fetchPositionsSnapshot": False}  # a REST snapshot: not served yet
    ex.set_markets(ccxt_markets(sim))
    return ex


@pytest.fixture
async def public(sim: Simulator) -> AsyncIterator[Any]:
    ex = make_exchange(sim)
    yield ex
    await ex.close()


@pytest.fixture
async def private(sim: Simulator) -> AsyncIterator[Any]:
    ex = make_exchange(sim, apiKey=DEMO_API_KEY, secret=DEMO_API_SECRET)
    yield ex
    await ex.close()


async def within(awaitable: Any, seconds: float = 10.0) -> Any:
    """Await with a (scaled) deadline, so a client that hangs fails the test instead."""
    return await asyncio.wait_for(awaitable, scaled(seconds))


async def subscribed(sim: Simulator, topic: str) -> None:
    """Wait until a private socket of the simulator holds ``topic``."""
    await eventually(lambda: any(c.endpoint == "private" and topic in c.subs for c in sim.connections), 10,
                     f"the private subscription {topic}")


@pytest.mark.parametrize("symbol", ["BTC/USDT:USDT", "BTC/USDT"])
async def test_public_book_trades_and_ticker(public: Any, symbol: str) -> None:
    book = None
    for _ in range(5):  # snapshot, then deltas merged by ccxt
        book = await within(public.watch_order_book(symbol, 50))
    assert book is not None and book["symbol"] == symbol
    assert book["bids"] and book["asks"] and book["bids"][0][0] < book["asks"][0][0]
    assert all(size > 0 for _, size in book["bids"] + book["asks"])  # "0" levels were deleted
    trades = await within(public.watch_trades(symbol), 30)
    assert trades and trades[0]["symbol"] == symbol and trades[0]["price"] > 0
    ticker = await within(public.watch_ticker(symbol))
    ticker = await within(public.watch_ticker(symbol))
    assert ticker["symbol"] == symbol and ticker["last"] and ticker["last"] > 0


async def test_private_streams_and_create_amend_cancel(private: Any, sim: Simulator) -> None:
    symbol = "BTC/USDT:USDT"
    mid = mid_price(sim, "linear", "BTCUSDT")
    orders = asyncio.ensure_future(private.watch_orders(symbol))
    await subscribed(sim, "order")  # the order push must find the subscription in place
    placed = await within(private.create_order_ws(symbol, "limit", "buy", 0.01, round(mid * 0.9, 1)))
    assert placed["id"]
    seen = await within(orders)
    assert any(o["id"] == placed["id"] and o["symbol"] == symbol for o in seen)
    edited = await within(private.edit_order_ws(placed["id"], symbol, "limit", "buy", 0.01, round(mid * 0.8, 1)))
    assert edited["id"] == placed["id"]
    cancelled = await within(private.cancel_order_ws(placed["id"], symbol))
    assert cancelled["id"] == placed["id"]
    # a fill: ccxt sees the execution, the position and the balance change
    fills = asyncio.ensure_future(private.watch_my_trades(symbol))
    positions = asyncio.ensure_future(private.watch_positions([symbol]))
    balance = asyncio.ensure_future(private.watch_balance())
    for topic in ("execution", "position", "wallet"):
        await subscribed(sim, topic)
    await within(private.create_order_ws(symbol, "market", "buy", 0.01))
    mine = await within(fills)
    assert mine and mine[0]["symbol"] == symbol and mine[0]["side"] == "buy"
    held = await within(positions)
    assert any(p["symbol"] == symbol and p["contracts"] for p in held)
    wallet = await within(balance)
    assert wallet["USDT"]["total"] > 0


async def test_spot_orders_are_filed_under_the_spot_symbol(private: Any, sim: Simulator) -> None:
    orders = asyncio.ensure_future(private.watch_orders("BTC/USDT"))
    await subscribed(sim, "order")
    mid = mid_price(sim, "spot", "BTCUSDT")
    placed = await within(private.create_order_ws("BTC/USDT", "limit", "buy", 0.001, round(mid * 0.9, 2)))
    seen = await within(orders)  # ccxt tells spot from linear by the missing tpslMode
    assert any(o["id"] == placed["id"] and o["symbol"] == "BTC/USDT" for o in seen)
    await within(private.cancel_order_ws(placed["id"], "BTC/USDT"))


async def test_a_rejected_order_raises_ccxts_typed_error(private: Any, sim: Simulator) -> None:
    price = round(mid_price(sim, "linear", "BTCUSDT") * 0.9, 1)
    with pytest.raises(InsufficientFunds, match="110007"):
        await within(private.create_order_ws("BTC/USDT:USDT", "limit", "buy", 10_000, price))


async def test_a_restarting_trade_service_raises(private: Any, sim: Simulator) -> None:
    sim.faults.trade_restarting(True)
    with pytest.raises(ExchangeError, match="10019"):
        await within(private.create_order_ws("BTC/USDT:USDT", "market", "buy", 0.01))
