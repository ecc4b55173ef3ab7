"""The simulator's fast push path: book feeds diff only what changed, bursts are written in batches.

A book feed watches its market's book and, while no level came or went, diffs only the prices
that were touched. Whatever the market does (model steps, benchmark perturbations, takers that
partly fill resting user orders in place), the deltas it pushes must rebuild exactly the book's
top levels, as the full comparison would.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from helpers import scaled
from websockets.asyncio.client import connect

from rxbybit.protocol import BookUpdate, OrderBook, decode
from rxbybit.sim import Simulator
from rxbybit.sim.feeds import BookFeed
from rxbybit.sim.instruments import build_universe
from rxbybit.sim.market import Market
from rxbybit.sim.orderbook import Resting

T0 = 1_700_000_000_000
LINEAR = "/v5/public/linear"


def _apply(book: OrderBook, frames: list[str]) -> None:
    for f in frames:
        ev = decode(f)
        assert isinstance(ev, BookUpdate), ev
        assert book.apply(ev).changed, ev


def test_pushed_deltas_rebuild_the_books_top_levels_whatever_the_market_does() -> None:
    inst = build_universe(["BTCUSDT"], 4, T0)["linear"]["BTCUSDT"]
    market = Market(inst, 4, T0)
    feeds = {d: BookFeed(f"orderbook.{d}.BTCUSDT", "linear", market, d) for d in (50, 200)}
    books = {d: OrderBook() for d in feeds}
    for d, feed in feeds.items():
        feed.activate(T0)
        _apply(books[d], feed.on_subscribe(T0))
    resting: list[Resting] = []
    incremental = 0
    for i in range(1, 1_500):
        now = T0 + 20 * i
        kind = i % 5
        if kind == 0:
            market.step(now)  # levels come and go, takers trade
        elif kind == 1 and len(resting) < 40:  # a user order rests at the touch, alone or on synthetic size
            side = "Buy" if i % 2 else "Sell"
            price = market.book.best(side)
            assert price is not None
            r = Resting(side, price, inst.lot * (3 + i % 7))
            market.book.add_resting(r)
            resting.append(r)
        elif kind == 2:  # a small taker partly fills resting orders in place (Resting.leaves -= q)
            market.take("Sell" if i % 3 else "Buy", inst.lot * 2, None)
        else:
            market.perturb(50 if kind == 3 else 200)
        for d, feed in feeds.items():
            w = feed._watch
            incremental += w is not None and not w.moved
            _apply(books[d], feed.tick(now))
            u, bids, asks = feed.published()
            assert books[d].u == u
            assert books[d].bids() == bids == [(inst.pxf(p), inst.qtyf(s)) for p, s in market.book.top("Buy", d)]
            assert books[d].asks() == asks == [(inst.pxf(p), inst.qtyf(s)) for p, s in market.book.top("Sell", d)]
    assert incremental > 1_000  # the fast path was really taken, not only the full comparison


async def test_a_burst_arrives_whole_and_in_order_with_a_reply_sent_inside_it() -> None:
    async with Simulator(seed=1, symbols=("BTCUSDT",), speed=0.001) as sim, \
            connect(sim.url + LINEAR, max_size=2**24) as ws:
        topic = "orderbook.50.BTCUSDT"
        await ws.send(json.dumps({"op": "subscribe", "args": [topic], "req_id": "s"}))
        assert json.loads(await ws.recv())["success"] is True
        book = OrderBook()
        _apply(book, [await ws.recv()])
        n = 3_000
        got: list[dict[str, Any]] = []
        async with asyncio.timeout(scaled(30)):
            burst = asyncio.create_task(sim.burst("linear", topic, n=n))
            seen = 0
            ponged = False
            while seen < n or not ponged:  # read while the burst is written (it waits for slow readers)
                got.append(json.loads(await ws.recv()))
                seen += got[-1].get("topic") == topic
                ponged = ponged or got[-1].get("req_id") == "inside"
                if seen == n // 2:  # a reply asked for in the middle of the burst
                    await ws.send(json.dumps({"op": "ping", "req_id": "inside"}))
            await burst
        sent = burst.result()
    deltas = [m for m in got if m.get("topic") == topic]
    assert sent == n and len(deltas) >= n  # the background market may add a few of its own
    us = [m["data"]["u"] for m in deltas]
    assert us == list(range(us[0], us[0] + len(us)))
    _apply(book, [json.dumps(m) for m in deltas])
    u, bids, asks = sim.published_book("linear", topic)
    assert (book.u, book.bids(), book.asks()) == (u, bids, asks)
