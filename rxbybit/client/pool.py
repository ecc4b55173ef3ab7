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
from typing import TYPE_CHECKING, Any

from ..errors import MissingCredentialsError
from ..protocol.endpoints import Endpoint, needs_auth
from ..protocol.events import Event
from ..protocol.signing import Credentials
from ..transport import BackoffPolicy, Connection, Network
from ..transport.networks import resolve
from .stream import Provenance

if TYPE_CHECKING:
    from ..sim.embedded import Simulator

DEFAULT_NETWORK_ENV = "RXBYBIT_NETWORK"
"""Environment variable naming the default network (notebooks and Binder set it to ``sim``)."""


class ConnectionPool:
    """Where the exchange is, with which credentials, and one :class:`Connection` per endpoint."""

    def __init__(
        self,
        network: str | None = None,
        *,
        credentials: Credentials | None = None,
        backoff: BackoffPolicy | None = None,
        ping_interval: float = 20.0,
        pong_timeout: float = 10.0,
        sim_options: Mapping[str, Any] | None = None,
        simulated: bool | None = None,
    ) -> None:
        self.network_name = network or os.environ.get(DEFAULT_NETWORK_ENV) or "mainnet"
        self.simulated = self.network_name == "sim" if simulated is None else simulated
        """True when the data is simulated: ``network="sim"``, or ``simulated=True`` for a base URL
        that points at a standalone ``rxbybit sim``."""
        self._network: Network | None = None if self.network_name == "sim" else resolve(self.network_name)
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
    def provenance(self) -> Provenance:
        """Where the data comes from; every stream carries it."""
        return Provenance.SIMULATED if self.simulated else Provenance.LIVE

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
        async with self._sim_lock:
            if self._closed:
                raise RuntimeError("this Bybit client is closed; create a new one")
            if self._sim is None:
                from ..sim import embedded

                self._sim = await embedded.acquire(self._sim_options)
            return self._sim.url

    async def close(self) -> None:
        """Close every connection and let go of the embedded simulator."""
        self._closed = True
        await asyncio.gather(*(c.close() for c in self._connections.values()), return_exceptions=True)
        self._connections.clear()
        async with self._sim_lock:
            sim, self._sim = self._sim, None
        if sim is not None:
            from ..sim import embedded

            await embedded.release(sim)
