"""pybit's ``WebSocket`` and ``WebSocketTrading`` against the simulator, changed only in their URLs.

pybit runs websocket-client in its own threads: its blocking calls go through ``asyncio.to_thread``
while the simulator serves on this test's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest
from helpers import eventually
from pybit import _websocket_trading, unified_trading
from thirdparty import Inbox, mid_price, rows

from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET, Simulator


@pytest.fixture
async def pybit_urls(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    """Point pybit's three URL templates at the simulator (nothing else changes)."""
    monkeypatch.setattr(unified_trading, "PUBLIC_WSS", sim.url + "/v5/public/{CHANNEL_TYPE}")
    monkeypatch.setattr(unified_trading, "PRIVATE_WSS", sim.url + "/v5/private")
    monkeypatch.setattr(_websocket_trading, "TRADE_WSS", sim.url + "/v5/trade")
    return sim


Opened = Callable[..., Any]


@pytest.fixture
async def opened(pybit_urls: Simulator) -> AsyncIterator[Opened]:
    """``await opened(cls, **kwargs)`` builds a pybit client in a thread; every one is closed after."""
    made: list[Any] = []

    async def open_(cls: type, **kwargs: Any) -> Any:
        ws = await asyncio.to_thread(cls, **kwargs)
        made.append(ws)
        return ws

    yield open_
    for ws in made:
        await asyncio.to_thread(ws.exit)


@pytest.mark.parametrize("category", ["linear", "spot"])
async def test_public_book_trades_and_ticker(opened: Opened, sim: Simulator, category: str) -> None:
    ws = await opened(unified_trading.WebSocket, testnet=False, channel_type=category)
    book, trades, ticker = Inbox(), Inbox(), Inbox()
    await asyncio.to_thread(ws.orderbook_stream, 50, "BTCUSDT", book)
    await asyncio.to_thread(ws.trade_stream, "BTCUSDT", trades)
    await asyncio.to_thread(ws.ticker_stream, "BTCUSDT", ticker)
    await eventually(lambda: len(book.items) >= 5, 20, "5 book messages")
    await eventually(lambda: bool(trades.items), 30, "a trade message")
    await eventually(lambda: len(ticker.items) >= 2, 20, "2 ticker messages")
    # pybit rebuilt the book from the snapshot and deltas (deleted levels arrive as "0")
    last = book.items[-1]["data"]
    assert last["b"] and last["a"] and Decimal(last["b"][0][0]) < Decimal(last["a"][0][0])
    assert all(Decimal(size) > 0 for _, size in last["b"] + last["a"])
    u, _, _ = sim.published_book(category, "orderbook.50.BTCUSDT")  # type: ignore[arg-type]
    assert last["u"] <= u
    trade = rows(trades)[0]
    assert trade["s"] == "BTCUSDT" and Decimal(trade["p"]) > 0 and trade["S"] in ("Buy", "Sell")
    merged = ticker.items[-1]["data"]
    assert merged["symbol"] == "BTCUSDT" and Decimal(merged["lastPrice"]) > 0
    if category == "linear":  # pybit merged the deltas into the snapshot
        assert {"markPrice", "bid1Price", "singleOpenInterest"} <= set(merged)


async def test_private_streams_and_trading(opened: Opened, sim: Simulator) -> None:
    private = await opened(unified_trading.WebSocket, testnet=False, channel_type="private",
                           api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET)
    orders, fills, positions, wallet = Inbox(), Inbox(), Inbox(), Inbox()
    await asyncio.to_thread(private.order_stream, orders)
    await asyncio.to_thread(private.execution_stream, fills)
    await asyncio.to_thread(private.position_stream, positions)
    await asyncio.to_thread(private.wallet_stream, wallet)
    await eventually(lambda: len(private.subscriptions) == 4, 10, "four private subscriptions sent")
    trade = await opened(unified_trading.WebSocketTrading, testnet=False, api_key=DEMO_API_KEY,
                         api_secret=DEMO_API_SECRET)
    replies, errors = Inbox(), Inbox()
    mid = mid_price(sim, "linear", "BTCUSDT")
    rest = f"{mid * 0.9:.1f}"
    await asyncio.to_thread(trade.place_order, replies, errors, category="linear", symbol="BTCUSDT", side="Buy",
                            orderType="Limit", qty="0.010", price=rest, orderLinkId="pybit-rest")
    await eventually(lambda: bool(replies.items), 10, "the create reply")
    order_id = replies.items[0]["data"]["orderId"]
    await eventually(lambda: bool(rows(orders, lambda r: r.get("orderId") == order_id)), 10, "the New order push")
    lower = f"{mid * 0.8:.1f}"
    await asyncio.to_thread(trade.amend_order, replies, errors, category="linear", symbol="BTCUSDT",
                            orderId=order_id, price=lower)
    await eventually(lambda: any(Decimal(r["price"]) == Decimal(lower)
                                 for r in rows(orders, lambda r: r.get("orderId") == order_id)), 10, "the amend")
    await asyncio.to_thread(trade.cancel_order, replies, errors, category="linear", symbol="BTCUSDT",
                            orderId=order_id)
    await eventually(lambda: any(r["orderStatus"] == "Cancelled" for r in rows(orders)), 10, "the cancel push")
    # a market order fills: execution, position and wallet pushes follow
    await asyncio.to_thread(trade.place_order, replies, errors, category="linear", symbol="BTCUSDT", side="Buy",
                            orderType="Market", qty="0.010")
    await eventually(lambda: bool(rows(fills, lambda r: r.get("execType") == "Trade")), 10, "an execution")
    await eventually(lambda: bool(rows(positions, lambda r: r.get("size") not in (None, "0"))), 10, "a position")
    await eventually(lambda: bool(rows(wallet)), 10, "a wallet push")
    # a rejected order reaches pybit's error callback with Bybit's retCode
    await asyncio.to_thread(trade.place_order, replies, errors, category="linear", symbol="BTCUSDT", side="Buy",
                            orderType="Limit", qty="0.010", price="1.05")
    await eventually(lambda: bool(errors.items), 10, "the rejection")
    assert errors.items[0]["retCode"] == 110003 and errors.items[0]["op"] == "order.create"
    assert [r["retCode"] for r in replies.items] == [0, 0, 0, 0]


async def test_a_restarting_trade_service_reaches_the_error_callback(opened: Opened, sim: Simulator) -> None:
    trade = await opened(unified_trading.WebSocketTrading, testnet=False, api_key=DEMO_API_KEY,
                         api_secret=DEMO_API_SECRET)
    replies, errors = Inbox(), Inbox()
    sim.faults.trade_restarting(True)
    await asyncio.to_thread(trade.place_order, replies, errors, category="linear", symbol="BTCUSDT", side="Buy",
                            orderType="Market", qty="0.010")
    await eventually(lambda: bool(errors.items), 10, "the 10019 reply")
    assert errors.items[0]["retCode"] == 10019 and not replies.items
