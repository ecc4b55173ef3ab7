"""One chaos run: a client (default backoff policy) streams books and places orders through the
fault proxy while it misbehaves, then the faults stop and the run measures how the client recovers.

Shared by the short seeded test in this folder and ``bench/bench_chaos.py`` (minutes, before/after).
Only public behaviour and the client's own connection states are read, so the same run measures
older versions of the client too.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from reactivex import abc

import rxbybit as rb
from rxbybit import errors
from rxbybit.protocol.endpoints import Category
from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET, Simulator

from .books import BookWatch, exchange_topics
from .proxy import Chaos, FaultProxy

BOOKS: tuple[tuple[Category, str], ...] = (("linear", "BTCUSDT"), ("linear", "ETHUSDT"), ("spot", "BTCUSDT"))
PATHS = {"linear": "/v5/public/linear", "spot": "/v5/public/spot"}
SAMPLE_S = 0.05


@dataclass
class ChaosReport:
    """What one run measured."""

    chaos_s: float
    uptime: dict[str, float] = field(default_factory=dict)
    """Per socket: the share of the chaos period it was connected."""
    recovery_s: float | None = None
    """From the end of the faults until every socket is connected, the exchange holds exactly the
    observed topics and every book has emitted again (None: not within the calm period)."""
    outcomes: Counter[str] = field(default_factory=Counter)
    """Order creates by outcome: ack, not_sent, unknown, rejected:<code>, untyped:<type>."""
    duplicates: int = 0
    acked_missing: int = 0
    not_sent_but_placed: int = 0
    book_views: int = 0
    book_violations: list[str] = field(default_factory=list)
    books_equal: bool = False
    subscriptions_equal: bool = False
    reconnects: int = 0
    proxy: dict[str, Any] = field(default_factory=dict)

    @property
    def mean_uptime(self) -> float:
        """The sockets' average uptime share during the faults."""
        return sum(self.uptime.values()) / len(self.uptime) if self.uptime else 0.0


async def chaos_run(chaos_s: float, *, seed: int = 1, calm_s: float = 30.0, order_rate: float = 4.0,
                    chaos: Chaos | None = None, ping_interval: float = 2.0, pong_timeout: float = 2.0) -> ChaosReport:
    """Stream and trade through faults for ``chaos_s`` seconds, then up to ``calm_s`` without them."""
    report = ChaosReport(chaos_s)
    async with Simulator(seed=seed, symbols=("BTCUSDT", "ETHUSDT"), speed=1.0) as sim, \
            FaultProxy("127.0.0.1", int(sim.url.rsplit(":", 1)[1]), seed=seed, latency=0.002) as proxy:
        bybit = rb.Bybit(proxy.url, simulated=True, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET,
                         ping_interval=ping_interval, pong_timeout=pong_timeout)  # the default backoff policy
        try:
            await _run(bybit, sim, proxy, report, chaos or Chaos(), chaos_s, calm_s, order_rate)
        finally:
            await bybit.close()
        report.proxy = dict(vars(proxy.stats))
    return report


async def _run(bybit: rb.Bybit, sim: Simulator, proxy: FaultProxy, report: ChaosReport, chaos: Chaos,
               chaos_s: float, calm_s: float, order_rate: float) -> None:
    loop = asyncio.get_running_loop()
    watches = [BookWatch(cat, f"orderbook.50.{sym}") for cat, sym in BOOKS]
    subs: list[abc.DisposableBase] = [
        bybit.orderbook(sym, depth=50, category=cat).subscribe(w) for (cat, sym), w in zip(BOOKS, watches, strict=True)]
    subs.append(bybit.trades("BTCUSDT").subscribe(lambda t: None))
    subs.append(bybit.orders().subscribe(lambda o: None))
    await bybit.wait_subscribed(10.0)
    await bybit.trade.connect()
    book = await _best_bid(bybit)
    price = f"{round(book * 0.5, 1)}"  # rests far from the market: stays active, so it can be counted

    links: dict[str, str] = {}
    orders: set[asyncio.Task[None]] = set()
    counter = itertools.count()

    async def create(link: str) -> None:
        try:
            await bybit.trade.create_order(category="linear", symbol="BTCUSDT", side="Buy", order_type="Limit",
                                           qty="0.001", price=price, order_link_id=link, time_in_force="PostOnly")
            links[link] = "ack"
        except errors.TradeError as exc:
            links[link] = f"rejected:{exc.code}"
        except errors.OrderStatusUnknownError:
            links[link] = "unknown"
        except Exception as exc:  # classified: anything else is an untyped failure
            name = type(exc).__name__
            links[link] = "not_sent" if name == "OrderNotSentError" else f"untyped:{name}"

    up: Counter[str] = Counter()
    samples = 0
    proxy.chaos = chaos
    started = loop.time()
    next_order = started
    while loop.time() - started < chaos_s:
        for endpoint, conn in bybit._pool.connections.items():
            up[endpoint] += conn.state == "connected"
        samples += 1
        if order_rate and loop.time() >= next_order:
            next_order += 1.0 / order_rate
            task = loop.create_task(create(f"chaos-{next(counter)}"))
            orders.add(task)
            task.add_done_callback(orders.discard)
        await asyncio.sleep(SAMPLE_S)
    proxy.chaos = None
    calm_started = loop.time()
    report.uptime = {e: up[e] / max(samples, 1) for e in sorted(bybit._pool.connections)}
    views_at_calm = [w.views for w in watches]
    want = {(PATHS[cat], f"orderbook.50.{sym}") for cat, sym in BOOKS} | {(PATHS["linear"], "publicTrade.BTCUSDT")}

    def recovered() -> bool:
        conns = bybit._pool.connections.values()
        public = {t for t in exchange_topics(sim) if t[0] in PATHS.values()}
        return all(c.state == "connected" for c in conns) and public == want \
            and all(w.views > v for w, v in zip(watches, views_at_calm, strict=True))

    while loop.time() - calm_started < calm_s:
        if recovered():
            report.recovery_s = loop.time() - calm_started
            break
        await asyncio.sleep(0.02)
    if orders:
        await asyncio.wait(set(orders), timeout=calm_s)
    report.subscriptions_equal = {t for t in exchange_topics(sim) if t[0] in PATHS.values()} == want
    try:
        for w in watches:
            await w.matches(sim, timeout=10.0)
        report.books_equal = True
    except AssertionError:
        report.books_equal = False
    report.book_views = sum(w.views for w in watches)
    report.book_violations = [v for w in watches for v in w.violations]
    report.outcomes = Counter(links.values())
    placed = Counter(o.link_id for o in sim.engine.accounts[DEMO_API_KEY].orders.values() if o.link_id in links)
    report.duplicates = sum(1 for n in placed.values() if n > 1)
    report.acked_missing = sum(1 for link, out in links.items() if out == "ack" and not placed[link])
    report.not_sent_but_placed = sum(1 for link, out in links.items() if out == "not_sent" and placed[link])
    report.reconnects = sum(c.stats.reconnects for c in bybit._pool.connections.values())
    for s in subs:
        s.dispose()


async def _best_bid(bybit: rb.Bybit) -> float:
    from reactivex import operators as ops

    view = await bybit.orderbook("BTCUSDT", depth=50).pipe(ops.take(1))
    assert view.best_bid is not None
    return float(view.best_bid[0])


def describe(report: ChaosReport) -> str:
    """A few lines for a terminal."""
    uptime = ", ".join(f"{e} {v:.0%}" for e, v in report.uptime.items())
    rec = "not recovered" if report.recovery_s is None else f"{report.recovery_s:.2f} s"
    return (f"chaos {report.chaos_s:.0f} s: uptime {report.mean_uptime:.0%} ({uptime}); recovery {rec}; "
            f"reconnects {report.reconnects}; orders {dict(report.outcomes)}; duplicates {report.duplicates}; "
            f"acked but missing {report.acked_missing}; not sent but placed {report.not_sent_but_placed}; "
            f"book views {report.book_views}, violations {len(report.book_violations)}, books equal "
            f"{report.books_equal}, subscriptions equal {report.subscriptions_equal}; proxy {report.proxy}")


def wall() -> float:
    """Seconds on the monotonic clock (for scripts)."""
    return time.monotonic()
