"""The gateway server: websockets on one port, the try-it page at ``GET /``, one Session a connection.

``Gateway`` is an async context manager::

    async with Gateway("sim", port=8700, verifier=StoreVerifier(UserStore("users.db"))) as gw:
        print(gw.url)            # ws://127.0.0.1:8700/ws ; the page is gw.http_url
        await gw.serve_forever()

It binds ``127.0.0.1`` unless told otherwise. ``network`` is ``"sim"`` (an embedded simulator,
shared by every user), ``"mainnet"``, ``"testnet"`` or a base URL such as ``ws://127.0.0.1:8765``.

Fan-out writes pre-built frames. An event is encoded once, JSON envelope and RFC 6455 frame, and
the same bytes go to every subscriber's socket through
:func:`rxbybit.transport.ws_internals.write_frame_directly` (the one place that touches websockets'
internals; it falls back to the library's ``broadcast`` whenever the bytes would not be what the
library sends). Plain ``broadcast`` encodes the frame again for each connection. Measured with
``bench/bench_gateway.py`` on loopback (simulator, gateway and clients in three processes, a
2-core machine shared with other work), two runs of each path, alternating:

=====================================  ==========================  ==========================
                                       pre-built frames            ``websockets.broadcast``
=====================================  ==========================  ==========================
1,000 clients x 50 msgs/s: gateway     9.3 / 11.2 us               11.9 / 11.3 us
CPU per message received
  msgs/s per client, p99               49.5 / 49.3, 67 / 60 ms     49.7 / 48.9, 166 / 83 ms
700 clients x 100 msgs/s (saturated):  9.6 / 9.4 us                11.3 / 12.1 us
gateway CPU per message received
  msgs/s per client (of 100)           93.8 / 98.5                 81.8 / 94.7
=====================================  ==========================  ==========================

At the target rate both paths deliver everything and p99 is mostly the busy machine's noise; the
gain is CPU headroom (12 % less per message at the target rate, 19 % saturated), which shows as
throughput once the gateway is saturated. The pre-built path stays for that.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from ..client import Bybit
from ..protocol import topics as T
from ..transport.ws_internals import abort, buffered_bytes, write_frame_directly
from .auth import TokenVerifier
from .fanout import Router
from .hub import ClientFactory, Hub
from .limits import Limits
from .page import PAGE_HTML
from .session import Session

if TYPE_CHECKING:
    from .bus import BusRouter

log = logging.getLogger("rxbybit.gateway")

DEFAULT_SYMBOLS: Final[tuple[tuple[T.Category, str], ...]] = (
    ("linear", "BTCUSDT"), ("linear", "ETHUSDT"), ("spot", "BTCUSDT"), ("spot", "ETHUSDT"),
)


class _WsOutbox:
    """A session's writer: synchronous frame writes on the event loop, as ``broadcast`` does."""

    __slots__ = ("_closing", "ws")

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self._closing: asyncio.Task[None] | None = None

    def send(self, data: str | bytes) -> None:
        broadcast((self.ws,), data, text=True)

    def send_wire(self, data: bytes, wire: bytes) -> None:
        """Write the pre-encoded frame straight to the socket (fan-out fast path), else as ``send``."""
        if not write_frame_directly(self.ws, wire):
            broadcast((self.ws,), data, text=True)

    def buffered(self) -> int:
        return buffered_bytes(self.ws)

    def close(self, code: int, reason: str) -> None:
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self.ws.close(code, reason))


class Gateway:
    """Serves the path-based gateway protocol on top of the client's shared observables."""

    def __init__(
        self,
        network: str = "sim",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        verifier: TokenVerifier | None = None,
        limits: Limits | None = None,
        symbols: Sequence[tuple[T.Category, str]] = DEFAULT_SYMBOLS,
        client_factory: ClientFactory | None = None,
        sim_options: Mapping[str, Any] | None = None,
        bus: str | None = None,
    ) -> None:
        self.network = network
        self.host = host
        self._port = port
        self.verifier = verifier
        self.limits = limits or Limits()
        self._symbols = tuple(symbols)
        self._factory = client_factory
        self._sim_options = dict(sim_options or {"host": "127.0.0.1", "port": 0})
        self.hub: Hub | None = None
        self.bus_url = bus
        """``redis://...``: this gateway is one replica of a set sharing one upstream (``gateway.bus``)."""
        self.bus: BusRouter | None = None
        self.sessions: set[Session] = set()
        self._server: Server | None = None

    def __repr__(self) -> str:
        label = " SIMULATED" if self.network == "sim" else ""
        return f"<Gateway network={self.network}{label} {self.url} connections={len(self.sessions)}>"

    @property
    def port(self) -> int:
        """The bound port (the OS-chosen one when started with ``port=0``)."""
        return self._port

    @property
    def url(self) -> str:
        """The websocket URL clients connect to."""
        return f"ws://{self.host}:{self._port}/ws"

    @property
    def http_url(self) -> str:
        """The try-it page."""
        return f"http://{self.host}:{self._port}/"

    @property
    def simulator(self) -> Any:
        """The embedded simulator (``network="sim"`` only, once started)."""
        return None if self.hub is None else self.hub.public.simulator

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Gateway:
        """Start the upstream (and the simulator for ``"sim"``) and bind the server."""
        if self.network == "sim":
            public = (self._factory("sim", None) if self._factory is not None
                      else Bybit("sim", sim_options=self._sim_options))
            await public.__aenter__()
            sim = public.simulator
            if sim is None:
                await public.close()
                raise RuntimeError("the client for network 'sim' started no simulator")
            self.hub = Hub(str(sim.url), symbols=self._symbols, client_factory=self._factory, public=public,
                           router_factory=self._bus_router)
        else:
            self.hub = Hub(self.network, symbols=self._symbols, client_factory=self._factory,
                           router_factory=self._bus_router)
        if self.bus is not None:
            await self.bus.start()
        self._server = await serve(
            self._handle, self.host, self._port, process_request=self._process_request,
            max_size=self.limits.hard_max_message_bytes, compression=None, server_header="rxbybit-gateway",
        )
        sockets = list(self._server.sockets)
        if sockets:
            self._port = int(sockets[0].getsockname()[1])
        log.info("gateway on %s (network %s)", self.url, self.network)
        return self

    def _bus_router(self, public: Bybit) -> Router:
        if self.bus_url is None:
            return Router(public)
        from .bus import BusRouter  # needs redis, only for replicas

        self.bus = BusRouter(public, self.bus_url)
        return self.bus

    async def close(self) -> None:
        """Close every connection, the server and the upstream clients."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        for session in list(self.sessions):
            session.release()
        if self.bus is not None:
            await self.bus.stop()
        if self.hub is not None:
            await self.hub.close()
            self.hub = None

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def __aenter__(self) -> Gateway:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    def notify(self, user: str, title: str, message: str, level: str = "info") -> bool:
        """Push a notification to ``user``'s ``/user/notifications`` subscribers."""
        return self.hub is not None and self.hub.notify(user, title, message, level)

    # ------------------------------------------------------------------ connections

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        if request.path.split("?", 1)[0] in ("/", "/index.html"):
            response = connection.respond(http.HTTPStatus.OK, PAGE_HTML)
            del response.headers["Content-Type"]
            response.headers["Content-Type"] = "text/html; charset=utf-8"
            response.headers["Content-Security-Policy"] = (
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
            response.headers["X-Content-Type-Options"] = "nosniff"
            return response
        return connection.respond(http.HTTPStatus.NOT_FOUND,
                                  "not found: the page is at / and the websocket at /ws\n")

    async def _handle(self, ws: ServerConnection) -> None:
        assert self.hub is not None
        session = Session(self.hub, _WsOutbox(ws), self.verifier, self.limits)
        self.sessions.add(session)
        try:
            async for message in ws:
                await session.receive(message)
                if session.closed:  # abuse: the session asked to close; drain so the handshake ends
                    await _drain(ws, self.limits.abuse_close_timeout)
                    break
        except ConnectionClosed:
            pass
        finally:
            session.release()
            self.sessions.discard(session)


async def _drain(ws: ServerConnection, timeout: float) -> None:
    """Discard what an abusive client still sends until its close handshake ends (bounded)."""
    try:
        async with asyncio.timeout(timeout):
            async for _ in ws:
                pass
    except (TimeoutError, ConnectionClosed):
        pass
    if ws.state is not State.CLOSED:
        abort(ws)
