"""The connection pool: one self-healing socket per endpoint, shared by the streams and the trade API.

The pool knows where the network lives (``mainnet``, ``testnet``, ``demo``, a base URL, or the
process's embedded simulator), holds the credentials and the connection settings, and opens each
endpoint's :class:`~rxbybit.transport.Connection` lazily, once. ``Bybit`` and ``TradeClient`` both
take their sockets from it, so neither reaches into the other.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import MissingCredentialsError
from ..protocol.endpoints import Endpoint, needs_auth
from ..protocol.events import Event
from ..protocol.signing import Credentials
from ..transport import BackoffPolicy, Connection, Network
from ..transport.networks import resolve
from .stream import Provenance

if TYPE_CHECKING:
    from ..sim.embedded import Simulator

@runtime_checkable
class NetworkSource(Protocol):
    """A network that is started on demand and may end: a replayed recording (``rxbybit.replay``).

    ``Bybit(network=source)`` calls :meth:`acquire` for the base URL when the first socket opens,
    labels every stream with :attr:`provenance`, completes every stream once :meth:`wait_ended`
    returns, and calls :meth:`release` on close.
    """

    name: str
    provenance: Provenance

    async def acquire(self) -> str:
        """Start (or join) the source; returns its base URL."""
        ...

    async def release(self) -> None:
        """Let go of the source."""
        ...

    async def wait_ended(self) -> None:
        """Return when the source has nothing more to send (the end of a recording)."""
        ...


DEFAULT_NETWORK_ENV = "RXBYBIT_NETWORK"
"""Environment variable naming the default network (notebooks and Binder set it to ``sim``)."""


class ConnectionPool:
    """Where the exchange is, with which credentials, and one :class:`Connection` per endpoint."""

    def __init__(
        self,
        network: str | NetworkSource | None = None,
        *,
        credentials: Credentials | None = None,
        backoff: BackoffPolicy | None = None,
        ping_interval: float = 20.0,
        pong_timeout: float = 10.0,
        sim_options: Mapping[str, Any] | None = None,
        simulated: bool | None = None,
    ) -> None:
        self.source = network if isinstance(network, NetworkSource) else None
        """The started-on-demand network (a replay), if one was given instead of a name."""
        self.on_end: Callable[[], None] = lambda: None
        """Called once when :attr:`source` has ended (the client completes its streams)."""
        self._end_watch: asyncio.Task[None] | None = None
        if self.source is not None:
            self.network_name = self.source.name
        else:
            self.network_name = str(network or os.environ.get(DEFAULT_NETWORK_ENV) or "mainnet")
        self._simulated = self.network_name == "sim" if simulated is None else simulated
        self._network: Network | None = (
            None if self.network_name == "sim" or self.source is not None else resolve(self.network_name)
        )
        self.credentials = credentials
        self.backoff = backoff
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self._sim_options = dict(sim_options) if sim_options is not None else None
        self._sim: Simulator | None = None
        self._sim_lock = asyncio.Lock()  # one start or stop of the embedded simulator at a time
        self._connections: dict[Endpoint, Connection] = {}
        self._closed = False

    @property
    def simulated(self) -> bool:
        """True when the data is simulated: ``network="sim"``, ``simulated=True``, or a server that
        announced itself as the simulator in a handshake (so ``rxbybit sim`` at any URL is labelled)."""
        return self.provenance is not Provenance.LIVE

    @property
    def provenance(self) -> Provenance:
        """Where the data comes from; every stream carries it (REPLAY for a recording, SIMULATED for
        the simulator, also when it announced itself in a handshake)."""
        if self.source is not None:
            return self.source.provenance
        announced = {c.simulator_announced for c in self._connections.values()}
        if "replay" in announced:
            return Provenance.REPLAY
        if self._simulated or announced - {None}:
            return Provenance.SIMULATED
        return Provenance.LIVE

    def origin(self) -> Provenance:
        """:attr:`provenance`, as the function streams ask each time (it can change on connect)."""
        return self.provenance

    @property
    def network(self) -> Network | None:
        """The resolved network (None for ``sim``, whose URL is known once the simulator runs)."""
        return self._network

    @property
    def simulator(self) -> Simulator | None:
        """The process's embedded simulator while this pool uses it (``network="sim"`` only)."""
        return self._sim

    @property
    def connections(self) -> Mapping[Endpoint, Connection]:
        """The connections opened so far, by endpoint (read-only)."""
        return MappingProxyType(self._connections)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def require_credentials(self, what: str) -> Credentials:
        """The credentials, or a :class:`MissingCredentialsError` naming ``what`` needed them."""
        if self.credentials is None:
            raise MissingCredentialsError(
                f"{what!r} is private: create the client with api_key=... and api_secret=... "
                "(on network='sim' use rxbybit.sim.DEMO_API_KEY / DEMO_API_SECRET)"
            )
        return self.credentials

    def get(self, endpoint: Endpoint) -> Connection | None:
        """The connection of ``endpoint`` if it was opened."""
        return self._connections.get(endpoint)

    def connection(
        self,
        endpoint: Endpoint,
        *,
        on_event: Callable[[Event], None],
        on_topic_error: Callable[[str, Exception], None] | None = None,
        on_state: Callable[[Connection], None] | None = None,
        on_disconnect: Callable[[Connection], None] | None = None,
        on_subscriptions: Callable[[Connection], None] | None = None,
    ) -> Connection:
        """The connection of ``endpoint``, created on first use with these callbacks (later calls
        return the same connection; its callbacks are those of the first call)."""
        conn = self._connections.get(endpoint)
        if conn is not None:
            return conn
        if self._closed:
            raise RuntimeError("this Bybit client is closed; create a new one")
        url: Any
        if self._network is not None:
            url = self._network.url(endpoint)  # raises a clear error, e.g. trade on demo
        else:
            async def url() -> str:
                return resolve(await self.base_url()).url(endpoint)
        conn = Connection(
            url,
            endpoint,
            on_event=on_event,
            on_topic_error=on_topic_error,
            on_state=on_state,
            on_disconnect=on_disconnect,
            on_subscriptions=on_subscriptions,
            credentials=self.credentials if needs_auth(endpoint) else None,
            backoff=self.backoff,
            ping_interval=self.ping_interval,
            pong_timeout=self.pong_timeout,
            simulated=self.simulated,
        )
        self._connections[endpoint] = conn
        return conn

    def discard(self, endpoint: Endpoint, conn: Connection) -> None:
        """Forget ``conn`` (closed by its owner); the next :meth:`connection` call opens a new one."""
        if self._connections.get(endpoint) is conn:
            del self._connections[endpoint]

    async def base_url(self) -> str:
        """The network's base URL; for ``sim``, starts (or joins) the process's simulator first."""
        if self._network is not None:
            return self._network.public_base
        if self.source is not None:
            url = await self.source.acquire()
            if self._end_watch is None:
                self._end_watch = asyncio.get_running_loop().create_task(self._watch_end(self.source))
            return url
        async with self._sim_lock:
            if self._closed:
                raise RuntimeError("this Bybit client is closed; create a new one")
            if self._sim is None:
                from ..sim import embedded

                self._sim = await embedded.acquire(self._sim_options)
            return self._sim.url

    async def _watch_end(self, source: NetworkSource) -> None:
        await source.wait_ended()
        if not self._closed:
            self.on_end()

    async def close(self) -> None:
        """Close every connection and let go of the embedded simulator (or the network source)."""
        self._closed = True
        watch, self._end_watch = self._end_watch, None
        if watch is not None and watch is not asyncio.current_task():
            watch.cancel()
        if self.source is not None:
            await self.source.release()
        await asyncio.gather(*(c.close() for c in self._connections.values()), return_exceptions=True)
        self._connections.clear()
        async with self._sim_lock:
            sim, self._sim = self._sim, None
        if sim is not None:
            from ..sim import embedded

            await embedded.release(sim)
