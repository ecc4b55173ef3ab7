"""The simulator: a local Bybit exchange on loopback, assembled from its parts.

``Simulator`` is an async context manager. It binds ``127.0.0.1`` by default, serves
``/v5/public/{spot,linear,inverse,option}``, ``/v5/private``, ``/v5/trade`` and the legacy
``/spot/public/v3`` and ``/spot/private/v3``, and runs one clock task that steps the market every
20 virtual ms and pushes every subscribed topic at its cadence. ``speed`` scales virtual time
(``speed=10``: ten times as many pushes per second, timestamps run ten times faster).

The parts, each handed only what it needs: :class:`~.wire.WireServer` (sockets and frames in),
:class:`~.public.PublicDesk` with the :class:`~.registry.FeedRegistry` (public subscriptions and
feeds), :class:`~.desk.PrivateDesk` and :class:`~.trade_api.TradeDesk` (auth, private pushes,
orders), :class:`~.clock.Clock` (virtual time, market steps, due pushes), :class:`~.faults.Faults`.
This class wires them together and keeps the one public API tests, notebooks and tools use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Final

from ..protocol import replies
from ..protocol.endpoints import ENDPOINTS, Category, Endpoint, needs_auth
from .accounts import DEMO_API_KEY, DEMO_API_SECRET
from .clock import Clock, VirtualTime
from .conn import Conn
from .desk import PrivateDesk
from .engine import Engine
from .faults import Faults
from .feeds import BookFeed, Feed
from .instruments import build_universe
from .market import Market
from .public import PublicDesk
from .registry import FeedRegistry, Levels
from .rest import RestDesk
from .trade_api import TradeDesk
from .wire import Desk, WireServer

DEFAULT_SYMBOLS: Final = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT")
DATA_BEFORE_ACK: Final = 0.05
"""Default share of public subscribes whose data comes before the ack (seen in two of the mainnet
recordings examined; the real rate is unknown, this one is a guess)."""


class Simulator:
    """A local Bybit exchange on loopback: public data, private pushes, WS trade API and faults."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        symbols: Sequence[str] = DEFAULT_SYMBOLS,
        speed: float = 1.0,
        *,
        start_ms: int | None = None,
        rate_limit: int | None = None,
        accounts: Iterable[tuple[str, str]] = (),
        data_before_ack: float = DATA_BEFORE_ACK,
        latency_ms: float = 0.0,
    ) -> None:
        """``rate_limit`` overrides the WS trade requests allowed per second per op (None: Bybit's).

        ``data_before_ack`` is the share of public subscribe requests whose first data arrives before
        their ack (Bybit does this sometimes; picked by ``seed``, so repeatable; 0 turns it off).
        ``latency_ms`` holds every frame to a client that long (wall ms), like a network between them:
        some clients register a request's callback only after sending it, and lose a reply that comes
        back within microseconds on loopback.
        """
        if latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {latency_ms!r}")
        self._time = VirtualTime(speed, start_ms)
        if not symbols:
            raise ValueError("symbols must name at least one symbol, e.g. ('BTCUSDT',)")
        self.host = host
        self.seed = seed
        self.universe = build_universe(symbols, seed, self.start_ms)
        self.markets: dict[Category, dict[str, Market]] = {
            cat: {sym: Market(inst, seed, self.start_ms) for sym, inst in insts.items()}
            for cat, insts in self.universe.items()
        }
        now_ms = self._time.now_ms
        self.engine = Engine(self.markets, now_ms)
        self.engine.add_account(DEMO_API_KEY, DEMO_API_SECRET)
        for key, secret in accounts:
            self.engine.add_account(key, secret)
        self._feeds = FeedRegistry(self.markets, self._time)
        self.connections: set[Conn] = set()
        """Every open client connection."""
        self.faults = Faults(self.connections, self._feeds)
        self.desk = PrivateDesk(self.engine, self.connections, self.faults.take_reject, now_ms)
        faults = self.faults
        public = PublicDesk(self._feeds, faults.take_reject, data_before_ack=data_before_ack, seed=seed,
                            speed=speed, unsubscribe_op=lambda: faults.option_unsubscribe_op)
        trade = TradeDesk(self.engine, self.desk.route, rate_limit, self.faults.trade, self.connections)
        desks: dict[Endpoint, Desk] = {
            ep: trade if ep == "trade" else self.desk if needs_auth(ep) else public for ep in ENDPOINTS
        }
        self._wire = WireServer(host, port, desks, self.faults, now_ms, self.connections)
        self._wire.latency_s = latency_ms / 1000
        self.rest = RestDesk(self.markets, self.engine, now_ms, self.start_ms, seed, self._feeds.underlying_price)
        """The V5 REST API on the same port (``rest.faults``: down, rate limits)."""
        self._wire.http = self.rest.answer
        self._clock = Clock(self._time, (m for ms in self.markets.values() for m in ms.values()),
                            after_step=self.desk.after_market, push_due=self._feeds.push_due,
                            flush=self._wire.flush_held)

    # ------------------------------------------------------------------ lifecycle

    @property
    def speed(self) -> float:
        """How many times faster than wall time the exchange's clock runs."""
        return self._time.speed

    @property
    def start_ms(self) -> int:
        """Exchange time (epoch ms) at the start."""
        return self._time.start_ms

    @property
    def port(self) -> int:
        """The bound port (the OS-chosen one when started with ``port=0``)."""
        return self._wire.port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``ws://127.0.0.1:8765``; clients append ``/v5/public/linear`` etc."""
        return f"ws://{self.host}:{self.port}"

    def now_ms(self) -> int:
        """Simulated exchange time in epoch milliseconds (runs ``speed`` times faster than wall time)."""
        return self._time.now_ms()

    async def start(self) -> Simulator:
        """Bind the server and start the clock."""
        await self._wire.bind()
        if not self._clock.task.running:
            self._clock.task.start()
            self._wire.watchdog.start()
        return self

    async def stop(self) -> None:
        """Close every connection and the server, and stop the clock."""
        await self._clock.task.stop()
        await self._wire.watchdog.stop()
        await self._unbind()

    async def _unbind(self) -> None:
        await self._wire.unbind()
        self._feeds.clear_subscribers()

    async def restart(self, downtime: float = 0.0) -> None:
        """Take the whole server down and up again on the same port (state of the market and
        accounts is kept; clients must reconnect, re-auth and resubscribe). Trade sockets get
        Bybit's ``10019`` notice first."""
        for c in list(self.connections):
            if c.endpoint == "trade":
                c.reply(replies.restart_notice(c.conn_id))
        await asyncio.sleep(0)
        await self._unbind()
        if downtime > 0:
            await asyncio.sleep(downtime)
        await self._wire.bind()

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return (f"Simulator(SIMULATED {self.url} seed={self.seed} speed={self.speed} "
                f"connections={len(self.connections)})")

    def tick(self) -> None:
        """One clock cycle: maybe step the market, then push every feed that is due."""
        self._clock.tick()

    # ------------------------------------------------------------------ markets and feeds

    def underlying_price(self, base: str) -> float:
        """Index price of a base coin for options: the linear market's mid."""
        return self._feeds.underlying_price(base)

    def option_symbols(self, base: str | None = None) -> list[str]:
        """Simulated option symbols (of one base coin, e.g. ``"BTC"``, or all)."""
        return [s for s, m in self.markets["option"].items() if base is None or m.inst.base == base]

    def feed(self, endpoint: Endpoint, topic: str) -> Feed:
        """The feed of ``topic`` on ``endpoint`` (created on first use); raises ``ValueError``."""
        return self._feeds.feed(endpoint, topic)

    def book_feed(self, category: Category, topic: str) -> BookFeed:
        """The order book feed of ``topic``; raises ``ValueError`` if it is not a book topic."""
        return self._feeds.book_feed(category, topic)

    def published_book(self, category: Category, topic: str) -> tuple[int, Levels, Levels]:
        """``(u, bids, asks)`` of ``topic`` exactly as last pushed (ground truth for tests)."""
        return self._feeds.published(category, topic)

    def restart_books(self, category: Category, symbol: str) -> int:
        """Fault: every depth of ``symbol``'s book restarts at ``u == 1``."""
        return self._feeds.restart_books(category, symbol)

    async def burst(self, category: Category, topic: str, n: int, rate: float | None = None) -> int:
        """Load for benchmarks: push ``n`` book deltas of ``topic`` to its subscribers.

        ``rate`` caps the pushes per second (None: as fast as possible). Returns frames pushed
        (per subscriber). The deltas are real changes of the book, so books stay consistent.
        """
        return await self._feeds.burst(category, topic, n, rate)
