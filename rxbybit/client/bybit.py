"""The ``Bybit`` facade: every Bybit stream as one shared, self-healing observable.

One :class:`~rxbybit.transport.Connection` per endpoint, opened lazily; one exchange
subscription per topic however many observers; retry lives below the share (the connection
heals itself), so a reconnect is invisible downstream. All emissions happen on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from reactivex import abc

from ..errors import MissingCredentialsError
from ..protocol import topics as T
from ..protocol.book import Applied, BookView, OrderBook
from ..protocol.endpoints import needs_auth
from ..protocol.events import (
    BookUpdate,
    Candle,
    Event,
    Klines,
    Liquidation,
    Liquidations,
    PrivateUpdate,
    TickerUpdate,
    Trade,
    Trades,
)
from ..protocol.ticker import Ticker, TickerState
from ..transport import BackoffPolicy, Connection, Credentials, Network
from ..transport.networks import resolve
from .health import ConnectionState, Health, TopicHealth
from .stream import Provenance, Stream
from .streams import Fanout

log = logging.getLogger("rxbybit.client")
_DELTA = Applied.DELTA

V = TypeVar("V")

DEFAULT_NETWORK_ENV = "RXBYBIT_NETWORK"


@dataclass
class _Topic:
    """Client-side state of one exchange topic: its observers by view, counters, decoders."""

    endpoint: T.Endpoint
    name: str
    views: dict[str, Fanout[Any]] = field(default_factory=dict)
    book: OrderBook | None = None
    ticker: TickerState | None = None
    messages: int = 0
    last_at: float | None = None
    resyncs: int = 0
    rate_mark: tuple[float, int] = (0.0, 0)
    rate: float = 0.0

    @property
    def observers(self) -> int:
        return sum(f.count for f in self.views.values())


class Bybit:
    """A Bybit client whose streams are RxPY observables.

    ``network`` is ``"mainnet"`` (default, or the ``RXBYBIT_NETWORK`` environment variable),
    ``"testnet"``, ``"demo"``, ``"sim"`` (starts the local simulator in this process) or a base
    URL such as ``"ws://127.0.0.1:8765"``. Creating a client does no I/O; connections open when
    the first observer subscribes. Use it inside a running event loop (a notebook, or
    ``async with Bybit(...) as bybit`` under :func:`rxbybit.run`).
    """

    def __init__(
        self,
        network: str | None = None,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        backoff: BackoffPolicy | None = None,
        ping_interval: float = 20.0,
        pong_timeout: float = 10.0,
        health_interval: float = 1.0,
        sim_options: Mapping[str, Any] | None = None,
        simulated: bool | None = None,
    ) -> None:
        self.network_name = network or os.environ.get(DEFAULT_NETWORK_ENV) or "mainnet"
        self.simulated = self.network_name == "sim" if simulated is None else simulated
        """True when the data is simulated: ``network="sim"``, or ``simulated=True`` for a base URL
        that points at a standalone ``rxbybit sim``. Frames and widgets label such data."""
        self._network: Network | None = None if self.network_name == "sim" else resolve(self.network_name)
        if (api_key is None) != (api_secret is None):
            raise ValueError("give both api_key and api_secret, or neither")
        self._credentials = Credentials(api_key, api_secret) if api_key and api_secret else None
        self._backoff = backoff
        self._ping_interval = ping_interval
        self._pong_timeout = pong_timeout
        self._health_interval = health_interval
        self._sim_options = dict(sim_options or {})
        self._sim: Any = None
        self._sim_lock: asyncio.Lock | None = None
        self._connections: dict[T.Endpoint, Connection] = {}
        self._topics: dict[tuple[T.Endpoint, str], _Topic] = {}
        self._frame_taps: dict[T.Endpoint, Fanout[str | bytes]] = {}
        self._health = Fanout[Health]("health", self._start_health, self._stop_health,
                                      on_subscribe=self._send_health_now, provenance=self.provenance)
        self._health_task: asyncio.Task[None] | None = None
        self._observer_errors = 0
        self._last_error: str | None = None
        self._closed = False
        self._trade: Any = None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Bybit:
        if self.simulated:
            await self._base_url()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Complete every stream, close every connection and stop the embedded simulator."""
        if self._closed:
            return
        self._closed = True
        for topic in list(self._topics.values()):
            for fan in topic.views.values():
                fan.complete()
        self._health.complete()
        self._stop_health()
        if self._trade is not None:
            await self._trade.close()
        await asyncio.gather(*(c.close() for c in self._connections.values()), return_exceptions=True)
        self._connections.clear()
        if self._sim is not None:
            sim, self._sim = self._sim, None
            await sim.__aexit__(None, None, None)

    @property
    def provenance(self) -> Provenance:
        """Where this client's data comes from; every stream it hands out carries it."""
        return Provenance.SIMULATED if self.simulated else Provenance.LIVE

    @property
    def url(self) -> str | None:
        """Base URL in use (for ``sim``: known once the simulator has started)."""
        if self._network is not None:
            return self._network.public_base
        return None

    @property
    def simulator(self) -> Any:
        """The embedded :class:`rxbybit.sim.Simulator` (``network="sim"`` only, once started)."""
        return self._sim

    def __repr__(self) -> str:
        label = " SIMULATED" if self.simulated else ""
        auth = " authenticated" if self._credentials else ""
        return f"<Bybit network={self.network_name}{label}{auth} topics={len(self._topics)}>"

    # ------------------------------------------------------------------ public streams

    def orderbook(self, symbol: str, depth: int = 50, category: T.Category = "linear") -> Stream[BookView]:
        """Immutable order book snapshots (:class:`~rxbybit.protocol.BookView`), one per update.

        A book with a ``u`` gap is never emitted: the client resubscribes for a fresh snapshot
        and counts a resync on :attr:`health`.
        """
        topic = T.orderbook(symbol, depth, category)
        return self._view(category, topic.name, "book")

    def trades(self, symbol: str, category: T.Category = "linear") -> Stream[Trade]:
        """Public trades, one :class:`~rxbybit.protocol.Trade` per fill (options: by base coin)."""
        return self._view(category, T.public_trade(symbol, category).name, "trades")

    def ticker(self, symbol: str, category: T.Category = "linear") -> Stream[Ticker]:
        """The merged ticker state (deltas already applied), as an immutable :class:`Ticker`."""
        return self._view(category, T.tickers(symbol, category).name, "ticker")

    def klines(self, symbol: str, interval: str | int = "1", category: T.Category = "linear") -> Stream[Candle]:
        """Candles as Bybit pushes them; ``confirm`` marks a closed candle (key them on ``start``)."""
        return self._view(category, T.kline(symbol, interval, category).name, "klines")

    def liquidations(self, symbol: str, category: T.Category = "linear") -> Stream[Liquidation]:
        """Every liquidation of ``symbol`` (``allLiquidation``; linear and inverse only)."""
        return self._view(category, T.all_liquidation(symbol, category).name, "liquidations")

    def topic(self, name: str, category: T.Endpoint = "linear") -> Stream[Event]:
        """Raw decoded events of any topic on the socket ``category`` (``private`` for private)."""
        if category in ("private", "spot_v3_private"):
            self._require_credentials(name)
        parsed = T.parse(name, category)
        return self._view(category, parsed.name, "raw")

    def frames(self, endpoint: T.Endpoint = "linear") -> Stream[str | bytes]:
        """Every raw frame received on ``endpoint``'s socket, before decoding (for recording).

        This taps the socket; it does not subscribe anything by itself.
        """
        fan = self._frame_taps.get(endpoint)
        if fan is None:
            fan = self._frame_taps[endpoint] = Fanout(f"frames[{endpoint}]", lambda: None, lambda: None,
                                                      provenance=self.provenance)
            self._connection(endpoint).on_frame = fan.emit
        return fan.observable

    # ------------------------------------------------------------------ private streams

    def orders(self, category: T.Category | None = None) -> Stream[Mapping[str, Any]]:
        """Order updates (each item of Bybit's ``order`` push; values are exact strings)."""
        return self._private("order", category)

    def executions(self, category: T.Category | None = None, fast: bool = False) -> Stream[Mapping[str, Any]]:
        """Fills (``execution``, or the lower-latency ``execution.fast`` with ``fast=True``)."""
        return self._private("execution.fast" if fast else "execution", category)

    def positions(self, category: T.Category | None = None) -> Stream[Mapping[str, Any]]:
        """Position updates (pushed on every order create, amend or cancel, even if unchanged)."""
        return self._private("position", category)

    def wallet(self) -> Stream[Mapping[str, Any]]:
        """Wallet updates (``UNIFIED`` account; nothing is pushed until a balance changes)."""
        return self._private("wallet", None)

    def _private(self, family: str, category: T.Category | None) -> Stream[Mapping[str, Any]]:
        name = family if category is None else f"{family}.{category}"
        self._require_credentials(name)
        return self._view("private", T.private(name).name, "items")

    def _require_credentials(self, what: str) -> None:
        if self._credentials is None:
            raise MissingCredentialsError(
                f"{what!r} is a private stream: create the client with api_key=... and api_secret=... "
                "(on network='sim' use rxbybit.sim.DEMO_API_KEY / DEMO_API_SECRET)"
            )

    # ------------------------------------------------------------------ trade API

    @property
    def trade(self) -> Any:
        """Order entry over Bybit's WS trade API (``/v5/trade``)."""
        if self._trade is None:
            from .trade import TradeClient

            self._require_credentials("the trade API")
            self._trade = TradeClient(self)
        return self._trade

    # ------------------------------------------------------------------ health

    @property
    def health(self) -> Stream[Health]:
        """Connection state, message rates, last-message age, reconnects and resyncs.

        Emits at once on subscribe, then every ``health_interval`` seconds and on state changes.
        """
        return self._health.observable

    def health_now(self) -> Health:
        """The current :class:`Health` snapshot (rates over about the last ``health_interval``)."""
        self._update_rates(self._health_interval / 2)
        now = time.monotonic()
        topics = {}
        total_rate = 0.0
        last: float | None = None
        for t in self._topics.values():
            age = None if t.last_at is None else now - t.last_at
            conn = self._connections.get(t.endpoint)
            confirmed = conn is not None and t.name in conn.confirmed
            topics[t.name] = TopicHealth(t.name, t.rate, age, t.messages, t.resyncs, confirmed)
            total_rate += t.rate
            if t.last_at is not None and (last is None or t.last_at > last):
                last = t.last_at
        states: dict[str, ConnectionState] = {e: c.state for e, c in self._connections.items()}  # type: ignore[misc]
        if self._closed:
            overall: ConnectionState = "closed"
        elif not states:
            overall = "idle"
        elif all(s == "connected" for s in states.values()):
            overall = "connected"
        elif any(s == "reconnecting" for s in states.values()):
            overall = "reconnecting"
        else:
            overall = "connecting"
        errors = [c.stats.last_error for c in self._connections.values() if c.stats.last_error]
        return Health(
            network=self.network_name,
            simulated=self.simulated,
            state=overall,
            connections=states,
            msgs_per_s=total_rate,
            last_message_age_s=None if last is None else now - last,
            reconnects=sum(c.stats.reconnects for c in self._connections.values()),
            resyncs=sum(t.resyncs for t in self._topics.values()),
            topics=topics,
            last_error=self._last_error or (errors[-1] if errors else None),
        )

    async def wait_subscribed(self, timeout: float = 10.0) -> None:
        """Wait until Bybit has acknowledged every topic that has observers.

        Private streams have no initial snapshot, so wait for this before placing an order whose
        pushes you want to see. Raises ``TimeoutError`` naming the topics still pending.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            pending = [
                t.name for t in self._topics.values()
                if t.observers and t.name not in self._connection(t.endpoint).confirmed
            ]
            if not pending:
                return
            if loop.time() > deadline:
                raise TimeoutError(f"not acknowledged by Bybit within {timeout} s: {', '.join(pending)}")
            await asyncio.sleep(0.01)

    def _send_health_now(self, observer: abc.ObserverBase[Health]) -> None:
        with contextlib.suppress(Exception):
            observer.on_next(self.health_now())

    def _start_health(self) -> None:
        if self._health_task is None:
            self._health_task = asyncio.get_running_loop().create_task(self._health_loop())

    def _stop_health(self) -> None:
        task, self._health_task = self._health_task, None
        if task is not None:
            task.cancel()

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self._health_interval)
            self._health.emit(self.health_now())

    def _update_rates(self, min_age: float = 0.0) -> None:
        """Message rates per topic over the time since the last update (at least ``min_age`` ago)."""
        now = time.monotonic()
        for t in self._topics.values():
            then, count = t.rate_mark
            if then and now - then < min_age:
                continue
            if then:
                t.rate = (t.messages - count) / max(now - then, 1e-9)
            t.rate_mark = (now, t.messages)

    def _on_state(self, conn: Connection) -> None:
        if self._health.count and not self._closed:
            self._health.emit(self.health_now())

    # ------------------------------------------------------------------ wiring

    def _view(self, endpoint: T.Endpoint, name: str, kind: str) -> Stream[Any]:
        if self._closed:
            raise RuntimeError("this Bybit client is closed; create a new one")
        key = (endpoint, name)
        topic = self._topics.get(key)
        if topic is None:
            topic = self._topics[key] = _Topic(endpoint, name)
        fan = topic.views.get(kind)
        if fan is None:
            fan = topic.views[kind] = Fanout(
                f"{name}[{kind}]",
                on_first=lambda: self._acquire(topic),
                on_last=lambda: self._release(topic),
                on_observer_error=self._observer_error,
                provenance=self.provenance,
            )
        return fan.observable

    def _acquire(self, topic: _Topic) -> None:
        if topic.observers == 1:  # the first observer of any view of this topic
            asyncio.get_running_loop()  # raises a clear RuntimeError outside a running loop
            if topic.book is not None:
                topic.book.clear()
            self._connection(topic.endpoint).subscribe([topic.name])

    def _release(self, topic: _Topic) -> None:
        if topic.observers == 0:
            conn = self._connections.get(topic.endpoint)
            if conn is not None:
                conn.unsubscribe([topic.name])
            topic.book = None
            topic.ticker = None

    def _observer_error(self, name: str, exc: BaseException) -> None:
        self._observer_errors += 1
        self._last_error = f"an observer of {name} raised {exc!r}"

    def _connection(self, endpoint: T.Endpoint) -> Connection:
        conn = self._connections.get(endpoint)
        if conn is None:
            if self._network is not None:
                url: Any = self._network.url(endpoint)
            else:
                async def url() -> str:
                    base = await self._base_url()
                    return resolve(base).url(endpoint)
            credentials = self._credentials if needs_auth(endpoint) else None
            conn = Connection(
                url,
                endpoint,
                on_event=functools.partial(self._route, endpoint),
                on_topic_error=lambda topic, exc: self._topic_error(endpoint, topic, exc),
                on_state=self._on_state,
                credentials=credentials,
                backoff=self._backoff,
                ping_interval=self._ping_interval,
                pong_timeout=self._pong_timeout,
                simulated=self.simulated,
            )
            self._connections[endpoint] = conn
        return conn

    async def _base_url(self) -> str:
        if self._network is not None:
            return self._network.public_base
        if self._sim_lock is None:
            self._sim_lock = asyncio.Lock()
        async with self._sim_lock:
            if self._sim is None:
                from ..sim import Simulator

                sim = Simulator(**self._sim_options)
                await sim.__aenter__()
                self._sim = sim
            return str(self._sim.url)

    def _topic_error(self, endpoint: T.Endpoint, name: str, exc: Exception) -> None:
        topic = self._topics.get((endpoint, name))
        self._last_error = str(exc)
        if topic is None:
            return
        for fan in list(topic.views.values()):
            fan.error(exc)
        topic.book = None
        topic.ticker = None

    def _route(self, endpoint: T.Endpoint, event: Event) -> None:
        name = getattr(event, "topic", None)
        if name is None:
            return
        topic = self._topics.get((endpoint, name))
        if topic is None:
            return
        topic.messages += 1
        topic.last_at = time.monotonic()
        views = topic.views
        if type(event) is BookUpdate:  # the hot path: one view per book update
            book_fan = views.get("book")
            if book_fan is not None and topic.book is not None:
                result = topic.book.apply(event)
                if result is _DELTA:
                    book_fan.emit(topic.book.view())
                    if len(views) > 1:
                        self._route_raw(views, event)
                    return
                self._on_book_result(endpoint, topic, event, result)
                if len(views) > 1:
                    self._route_raw(views, event)
                return
        raw = views.get("raw")
        if raw is not None:
            raw.emit(event)
        if isinstance(event, BookUpdate):
            self._on_book(endpoint, topic, event)
        elif isinstance(event, Trades):
            _emit_each(views.get("trades"), event.trades)
        elif isinstance(event, TickerUpdate):
            fan = views.get("ticker")
            if fan is not None:
                if topic.ticker is None:
                    topic.ticker = TickerState()
                fan.emit(topic.ticker.apply(event))
        elif isinstance(event, Klines):
            _emit_each(views.get("klines"), event.candles)
        elif isinstance(event, Liquidations):
            _emit_each(views.get("liquidations"), event.liquidations)
        elif isinstance(event, PrivateUpdate):
            _emit_each(views.get("items"), event.items)

    @staticmethod
    def _route_raw(views: dict[str, Fanout[Any]], event: Event) -> None:
        raw = views.get("raw")
        if raw is not None:
            raw.emit(event)

    def _on_book(self, endpoint: T.Endpoint, topic: _Topic, event: BookUpdate) -> None:
        if "book" not in topic.views:
            return
        if topic.book is None:
            topic.book = OrderBook(event.symbol, event.depth or None)
        self._on_book_result(endpoint, topic, event, topic.book.apply(event))

    def _on_book_result(self, endpoint: T.Endpoint, topic: _Topic, event: BookUpdate, result: Applied) -> None:
        fan = topic.views.get("book")
        if fan is None or topic.book is None:
            return
        if result.changed:
            if result is Applied.RESTART:
                topic.resyncs += 1
            fan.emit(topic.book.view())
        elif result in (Applied.GAP, Applied.CROSSED):
            topic.resyncs += 1
            log.warning("%s: %s at u=%s; resubscribing for a fresh snapshot", topic.name, result.value, event.u)
            conn = self._connections.get(endpoint)
            if conn is not None:
                conn.resubscribe(topic.name)
            if self._health.count:
                self._health.emit(self.health_now())


def _emit_each(fan: Fanout[Any] | None, items: tuple[Any, ...]) -> None:
    if fan is not None:
        for item in items:
            fan.emit(item)

