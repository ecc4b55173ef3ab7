"""Helpers of the gateway bus tests: the topics they watch and checks of a client's book stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from helpers import scaled

from .conftest import Client

BOOK = "orderbook.50.BTCUSDT"
TICKER = "tickers.BTCUSDT"
BOOK_PATH = f"/external/linear/{BOOK}"
TICKER_PATH = f"/external/linear/{TICKER}"


def book_events(c: Client) -> list[dict[str, Any]]:
    return [m["data"] for m in c.events(BOOK_PATH)]


def assert_books_unbroken(c: Client) -> int:
    """A client's book stream starts with a snapshot and every delta continues the last ``u``;
    returns how many snapshots it got."""
    events = book_events(c)
    assert events and events[0]["type"] == "snapshot", [e["type"] for e in events[:3]]
    u, snapshots = None, 0
    for e in events:
        if e["type"] == "snapshot":
            snapshots += 1
        else:
            assert e["data"]["u"] == u + 1, f"delta u={e['data']['u']} after u={u}"
        u = e["data"]["u"]
    return snapshots


def book_at(events: list[dict[str, Any]], u: int, depth: int = 50) -> tuple[list[list[str]], list[list[str]]]:
    """The book a client rebuilds from its events up to ``u``, levels as text (a naive model)."""
    bids: dict[str, str] = {}
    asks: dict[str, str] = {}
    for e in events:
        if e["type"] == "snapshot":
            bids, asks = {}, {}
        for side, levels in ((bids, e["data"]["b"]), (asks, e["data"]["a"])):
            for price, size in levels:
                if float(size) == 0:
                    side.pop(price, None)
                else:
                    side[price] = size
        if e["data"]["u"] == u:
            break
    else:
        raise AssertionError(f"u={u} never seen")
    return ([[p, bids[p]] for p in sorted(bids, key=lambda p: -float(p))][:depth],
            [[p, asks[p]] for p in sorted(asks, key=float)][:depth])


async def eventually_async(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """``helpers.eventually`` for a check that must await (a Redis query): returns once it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + scaled(timeout)
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {scaled(timeout)} s waiting for {what}")
        await asyncio.sleep(0.01)
