"""Subscribe/dispose storms and a flicking symbol dropdown, against the simulator behind a proxy
that adds latency: the exchange's subscriptions converge to what is observed, and every book
observed again gets a fresh snapshot (its observer sees the simulator's book)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
from helpers import eventually
from reactivex import abc

import rxbybit as rb
from rxbybit.protocol.endpoints import Category
from rxbybit.sim import Simulator
from rxbybit.transport import exponential_backoff

from .books import BookWatch, exchange_topics
from .proxy import FaultProxy

SYMBOLS = tuple(f"S{c}USDT" for c in "ABCDEFGHIJ")
PATHS = {"linear": "/v5/public/linear", "spot": "/v5/public/spot"}
BOOKS: list[tuple[Category, str, int]] = [
    (category, symbol, depth)
    for symbol in SYMBOLS
    for category, depths in (("linear", (1, 50, 200)), ("spot", (1, 50)))
    for depth in depths
]  # 50 book topics


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(host="127.0.0.1", port=0, seed=11, symbols=SYMBOLS, speed=1.0) as s:
        yield s


def client(url: str) -> rb.Bybit:
    return rb.Bybit(url, simulated=True, ping_interval=5.0, pong_timeout=5.0,
                    backoff=exponential_backoff(initial=0.02, maximum=0.2))


def topic_of(depth: int, symbol: str) -> str:
    return f"orderbook.{depth}.{symbol}"


async def test_a_thousand_subscribe_dispose_cycles_on_fifty_books_converge(sim: Simulator) -> None:
    rng = random.Random(17)
    async with FaultProxy("127.0.0.1", int(sim.url.rsplit(":", 1)[1]), seed=17, latency=0.01) as proxy, \
            client(proxy.url) as bybit:
        watches: dict[int, BookWatch] = {}
        subs: dict[int, abc.DisposableBase] = {}
        cycles = 0
        while cycles < 1_000:
            i = rng.randrange(len(BOOKS))
            category, symbol, depth = BOOKS[i]
            if i in subs:
                subs.pop(i).dispose()
                cycles += 1
            else:
                watches[i] = BookWatch(category, topic_of(depth, symbol))
                subs[i] = bybit.orderbook(symbol, depth=depth, category=category).subscribe(watches[i])
            if rng.random() < 0.3:  # let requests and replies cross at random points
                await asyncio.sleep(rng.choice((0.0, 0.001, 0.005, 0.02)))
        want = {(PATHS[BOOKS[i][0]], topic_of(BOOKS[i][2], BOOKS[i][1])) for i in subs}
        await eventually(lambda: exchange_topics(sim) == want, 20.0,
                         "the exchange's subscriptions to equal the observed books")
        await eventually(lambda: all(c.settled for c in bybit._pool.connections.values()), 10.0,
                         "every request answered")
        assert exchange_topics(sim) == want
        for i in subs:
            await watches[i].matches(sim)  # the last observer of each book got a fresh snapshot
            assert not watches[i].violations
        for sub in subs.values():
            sub.dispose()
        await eventually(lambda: exchange_topics(sim) == set(), 10.0, "every subscription dropped")


async def test_a_symbol_dropdown_flicked_every_30_ms_with_an_80_ms_round_trip(sim: Simulator) -> None:
    async with FaultProxy("127.0.0.1", int(sim.url.rsplit(":", 1)[1]), seed=3, latency=0.04) as proxy, \
            client(proxy.url) as bybit:
        current = None
        watch = BookWatch("linear", "")
        for n in range(40):
            symbol = SYMBOLS[n % len(SYMBOLS)] if n < 39 else SYMBOLS[7]
            if current is not None:
                current.dispose()
            watch = BookWatch("linear", topic_of(50, symbol))
            current = bybit.orderbook(symbol, depth=50).subscribe(watch)
            await asyncio.sleep(0.03)
        final = (PATHS["linear"], topic_of(50, SYMBOLS[7]))
        await eventually(lambda: exchange_topics(sim) == {final}, 10.0,
                         "only the book finally picked subscribed on the exchange")
        await watch.matches(sim)
        assert watch.views > 0 and not watch.violations
        assert current is not None
        current.dispose()
