"""The ``Bybit`` facade: every Bybit stream as one shared, self-healing observable.

``Bybit`` keeps the public methods and wires three parts together: a
:class:`~.pool.ConnectionPool` (one self-healing socket per endpoint, shared with the trade API),
a :class:`~.router.TopicRouter` (one exchange subscription per observed topic, however many
observers; books and tickers rebuilt from deltas) and a :class:`~.health.HealthMonitor`. Retry lives
below the share (the connection heals itself), so a reconnect is invisible downstream. All
emissions happen on the event loop thread.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..protocol import topics as T
from ..protocol.book import BookView
from ..protocol.events import Candle, Event, Liquidation, Trade
from ..protocol.instruments import InstrumentInfo
from ..protocol.rest import REST_HOSTS
from ..protocol.signing import Credentials
from ..protocol.ticker import Ticker
from ..rest import RestClient, http_base
from ..transport import BackoffPolicy, Connection
from .health import Health, HealthMonitor
from .history import CandleSeam, TradeSeam, fetch_candles, fetch_trades, with_history
from .instruments import CheckMode, InstrumentCache, order_checker
from .lifecycle import OwnedRouter, Parts, adopt
from .pool import DEFAULT_NETWORK_ENV, ConnectionPool, NetworkSource
from .private_state import StateKind, StateStreams, orders_kind, positions_kind, wallet_kind
from .stream import Provenance, Stream
from .streams import Fanout
from .trade import TradeClient

if TYPE_CHECKING:
    from ..sim.embedded import Simulator

log = logging.getLogger("rxbybit.client")

__all__ = ["DEFAULT_NETWORK_ENV", "Bybit"]


class Bybit:
    """A Bybit client whose streams are RxPY observables.

    ``network`` is ``"mainnet"`` (default, or the ``RXBYBIT_NETWORK`` environment variable),
    ``"testnet"``, ``"demo"``, ``"sim"`` (the process's embedded simulator, shared by every
    ``network="sim"`` client) or a base URL such as ``"ws://127.0.0.1:8765"``. Creating a client
    does no I/O; connections open when the first observer subscribes. Use it inside a running
    event loop (a notebook, or ``async with Bybit(...) as bybit`` under :func:`rxbybit.run`).
    """

    def __init__(
        self,
        network: str | NetworkSource | None = None,
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
        if (api_key is None) != (api_secret is None):
            raise ValueError("give both api_key and api_secret, or neither")
        credentials = Credentials(api_key, api_secret) if api_key and api_secret else None
        self._pool = ConnectionPool(
            network, credentials=credentials, backoff=backoff, ping_interval=ping_interval,
            pong_timeout=pong_timeout, sim_options=sim_options, simulated=simulated,
        )
        # the sockets call the parts, never this object: a dropped client can be collected (and closed)
        self._parts = parts = Parts(self._pool)
        self._router = parts.router = OwnedRouter(
            parts.connection, self._pool.origin, on_observer_error=parts.observer_error,
            on_resync=parts.resync, on_topic_error=parts.topic_error,
        )
        self._monitor = parts.monitor = HealthMonitor(self._pool, self._router, health_interval)
        me = weakref.ref(self)  # weak, like the parts: the pool must not keep a dropped client alive
        self._pool.on_end = lambda: _source_ended(me)
        self._frame_taps: dict[T.Endpoint, Fanout[str | bytes]] = {}
        self._trade: TradeClient | None = None
        self._rest: RestClient | None = None
        rest = _rest_of(weakref.ref(self))  # what the sockets reach must not hold the client
        self._instruments = InstrumentCache(rest)
        monitor = self._monitor
        self._states = parts.states = StateStreams(
            rest, lambda topic, timeout: monitor.wait_topic("private", topic, timeout), parts.topic_error,
            monitor.reconciled)
        self._closed = False
        self._settings = (self._pool.network_name, api_key)
        adopt(self, parts, self._settings, self.__repr__)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Bybit:
        if self.network_name == "sim" or self._pool.source is not None:
            await self._pool.base_url()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Complete every stream, close every connection and let go of the embedded simulator."""
        if self._closed:
            return
        self._closed = True
        self._parts.closed = True
        self._router.close()
        self._monitor.close()
        for fan in self._frame_taps.values():
            fan.complete()
        if self._trade is not None:
            await self._trade.close()
        if self._rest is not None:
            await self._rest.close()
        await self._pool.close()

    @property
    def network_name(self) -> str:
        """The network asked for: ``mainnet``, ``testnet``, ``demo``, ``sim`` or a base URL."""
        return self._pool.network_name

    @property
    def simulated(self) -> bool:
        """True when the data is simulated: ``network="sim"``, a base URL whose server announced itself
        as the simulator in its handshake (known once connected), a replay, or ``simulated=True``.
        Frames and widgets label such data."""
        return self._pool.simulated

    @property
    def provenance(self) -> Provenance:
        """Where this client's data comes from; every stream it hands out carries it."""
        return self._pool.provenance

    @property
    def url(self) -> str | None:
        """Base URL in use (for ``sim``: known once the simulator has started)."""
        network = self._pool.network
        if network is not None:
            return network.public_base
        sim = self._pool.simulator
        return None if sim is None else sim.url

    @property
    def simulator(self) -> Simulator | None:
        """The embedded :class:`rxbybit.sim.Simulator` (``network="sim"`` only, once started)."""
        return self._pool.simulator

    def __repr__(self) -> str:
        label = " SIMULATED" if self.simulated else ""
        auth = " authenticated" if self._pool.credentials else ""
        return f"<Bybit network={self.network_name}{label}{auth} topics={len(self._router)}>"

    # ------------------------------------------------------------------ public streams

    def orderbook(self, symbol: str, depth: int = 50, category: T.Category = "linear") -> Stream[BookView]:
        """Immutable order book snapshots (:class:`~rxbybit.protocol.BookView`), one per update.

        A book with a ``u`` gap is never emitted: the client resubscribes for a fresh snapshot
        and counts a resync on :attr:`health`.
        """
        topic = T.orderbook(symbol, depth, category)
        return self._router.view(category, topic.name, "book")

    def trades(self, symbol: str, category: T.Category = "linear", *, history: int = 0) -> Stream[Trade]:
        """Public trades, one :class:`~rxbybit.protocol.Trade` per fill (options: by base coin).

        ``history=N`` first emits the latest N stored trades (REST; Bybit keeps 1000, spot 60), then
        the live ones, each trade once (see :mod:`rxbybit.client.history` for the seam rules).
        """
        topic = T.public_trade(symbol, category).name
        live: Stream[Trade] = self._router.view(category, topic, "trades")
        if history <= 0:
            return live
        if category == "option":
            raise ValueError("trades(history=...) is not served for options (their topic is by base coin)")
        return with_history(live, lambda: fetch_trades(self.rest, category, symbol, history), TradeSeam,
                            ready=lambda t: self._monitor.wait_topic(category, topic, t), name=topic,
                            on_error=self._parts.topic_error)

    def ticker(self, symbol: str, category: T.Category = "linear") -> Stream[Ticker]:
        """The merged ticker state (deltas already applied), as an immutable :class:`Ticker`."""
        return self._router.view(category, T.tickers(symbol, category).name, "ticker")

    def klines(self, symbol: str, interval: str | int = "1", category: T.Category = "linear", *,
               history: int = 0) -> Stream[Candle]:
        """Candles as Bybit pushes them; ``confirm`` marks a closed candle (key them on ``start``).

        ``history=N`` first emits the latest N stored candles (REST), then the live ones, with no gap
        and no duplicate at the seam: the candle open at connect time is emitted once, then updated
        (see :mod:`rxbybit.client.history` for the exact rules).
        """
        topic = T.kline(symbol, interval, category)
        live: Stream[Candle] = self._router.view(category, topic.name, "klines")
        if history <= 0:
            return live
        text = str(topic.interval)
        return with_history(live, lambda: fetch_candles(self.rest, category, symbol, text, history), CandleSeam,
                            ready=lambda t: self._monitor.wait_topic(category, topic.name, t), name=topic.name,
                            on_error=self._parts.topic_error)

    def liquidations(self, symbol: str, category: T.Category = "linear") -> Stream[Liquidation]:
        """Every liquidation of ``symbol`` (``allLiquidation``; linear and inverse only)."""
        return self._router.view(category, T.all_liquidation(symbol, category).name, "liquidations")

    def topic(self, name: str, category: T.Endpoint = "linear") -> Stream[Event]:
        """Raw decoded events of any topic on the socket ``category`` (``private`` for private)."""
        if category in ("private", "spot_v3_private"):
            self._require_credentials(name)
        parsed = T.parse(name, category)
        return self._router.view(category, parsed.name, "raw")

    def frames(self, endpoint: T.Endpoint = "linear") -> Stream[str | bytes]:
        """Every raw frame received on ``endpoint``'s socket, before decoding (for recording).

        This taps the socket; it does not subscribe anything by itself.
        """
        fan = self._frame_taps.get(endpoint)
        if fan is None:
            fan = self._frame_taps[endpoint] = Fanout(f"frames[{endpoint}]", _nothing, _nothing,
                                                      provenance=self._pool.origin)
            self._connection(endpoint).on_frame = fan.emit
        return fan.observable

    # ------------------------------------------------------------------ private streams

    def orders(self, category: T.Category | None = None, *, snapshot: bool = True) -> Stream[Mapping[str, Any]]:
        """Order updates (each item of Bybit's ``order`` push; values are exact strings).

        By default the stream starts from the open orders (REST) and reconciles after every reconnect
        of the private socket, so a fill during an outage still arrives. Rows read from REST carry
        ``rxbybitSource``: ``"snapshot"`` for orders already open at subscribe time (state, not a new
        order), ``"reconcile"`` for changes made during an outage (:mod:`rxbybit.client.private_state`).
        ``snapshot=False`` gives Bybit's bare stream (changes only).
        """
        return self._private("order", category, orders_kind(category) if snapshot else None)

    def executions(self, category: T.Category | None = None, fast: bool = False) -> Stream[Mapping[str, Any]]:
        """Fills (``execution``, or the lower-latency ``execution.fast`` with ``fast=True``)."""
        return self._private("execution.fast" if fast else "execution", category)

    def positions(self, category: T.Category | None = None, *,
                  snapshot: bool = True) -> Stream[Mapping[str, Any]]:
        """Position updates (pushed on every order create, amend or cancel, even if unchanged).

        By default the stream starts from the open positions (REST, rows marked ``rxbybitSource``)
        and reconciles after reconnects; ``snapshot=False`` gives Bybit's bare stream.
        """
        return self._private("position", category, positions_kind(category) if snapshot else None)

    def wallet(self, *, snapshot: bool = True) -> Stream[Mapping[str, Any]]:
        """Wallet updates (``UNIFIED`` account).

        By default the current balances come first (REST, marked ``rxbybitSource``) and are
        reconciled after reconnects; with ``snapshot=False`` Bybit pushes nothing until a balance
        changes.
        """
        return self._private("wallet", None, wallet_kind() if snapshot else None)

    def _private(self, family: str, category: T.Category | None,
                 kind: StateKind | None = None) -> Stream[Mapping[str, Any]]:
        name = family if category is None else f"{family}.{category}"
        self._require_credentials(name)
        topic = T.private(name).name
        live: Stream[Mapping[str, Any]] = self._router.view("private", topic, "items")
        return live if kind is None else self._states.stream(live, kind, topic)

    def _require_credentials(self, what: str) -> None:
        self._pool.require_credentials(what)

    # ------------------------------------------------------------------ REST

    @property
    def rest(self) -> RestClient:
        """Bybit's V5 REST API on this client's network and keys (one HTTP pool per client).

        On ``network="sim"`` or a base URL it is served on the sockets' port.
        """
        if self._rest is None:
            if self._closed:
                raise RuntimeError("this Bybit client is closed; create a new one")
            public = REST_HOSTS["mainnet"] if self.network_name == "demo" else None  # demo streams mainnet market data
            self._rest = RestClient(self._rest_base, public_base_url=public, credentials=self._pool.credentials)
        return self._rest

    async def _rest_base(self) -> str:
        named = REST_HOSTS.get(self.network_name)
        return named if named is not None else http_base(await self._pool.base_url())

    async def instruments(self, category: T.Category = "linear", *,
                          refresh: bool = False) -> Mapping[str, InstrumentInfo]:
        """Every instrument of ``category`` by symbol: tick size, lot size, min/max qty, min notional,
        status (:class:`~rxbybit.protocol.instruments.InstrumentInfo`). Read from REST once per
        client and category; ``refresh=True`` reads again."""
        return await self._instruments.get(category, refresh=refresh)

    def check_orders(self, mode: CheckMode | None = "validate") -> None:
        """Check every order the trade API creates or amends against its instrument before sending:
        ``"validate"`` refuses a price off the tick or a qty off the lot with
        :class:`~rxbybit.errors.OrderValidationError` (nothing is sent), ``"round"`` rounds them first
        (price to the nearest tick, qty down to the lot); None turns the check off."""
        self.trade.check = None if mode is None else order_checker(self._instruments, mode)

    # ------------------------------------------------------------------ trade API

    @property
    def trade(self) -> TradeClient:
        """Order entry over Bybit's WS trade API (``/v5/trade``), on this client's connection pool."""
        if self._trade is None:
            self._trade = self._parts.trade = TradeClient(self._pool)
        return self._trade

    # ------------------------------------------------------------------ health

    @property
    def health(self) -> Stream[Health]:
        """Connection state, message rates, last-message age, reconnects and resyncs.

        Emits at once on subscribe, then every ``health_interval`` seconds and on state changes.
        """
        return self._monitor.stream

    def health_now(self) -> Health:
        """The current :class:`Health` snapshot (rates over the last complete second). No side effects."""
        return self._monitor.snapshot()

    async def wait_subscribed(self, timeout: float = 10.0) -> None:
        """Wait until Bybit has acknowledged every topic that has observers.

        Bybit's private topics push changes only, so wait for this before placing an order whose
        pushes you want to see. Raises ``TimeoutError`` naming the topics still pending.
        """
        await self._monitor.wait_subscribed(timeout)

    # ------------------------------------------------------------------ wiring

    def _connection(self, endpoint: T.Endpoint) -> Connection:
        return self._parts.connection(endpoint)


def _rest_of(ref: weakref.ref[Bybit]) -> Callable[[], RestClient]:
    def rest() -> RestClient:
        client = ref()
        if client is None:
            raise RuntimeError("this Bybit client was dropped; create a new one")
        return client.rest

    return rest


def _nothing() -> None:
    """A tap's source needs no start or stop: the socket feeds it."""


def _source_ended(client: weakref.ref[Bybit]) -> None:
    """The recording being replayed has ended: complete every stream, as :meth:`Bybit.close` does."""
    bybit = client()
    if bybit is not None:
        asyncio.get_running_loop().create_task(bybit.close())
