"""The gateway server: websockets on one port, the try-it page at ``GET /``, one Session a connection.

``Gateway`` is an async context manager::

    async with Gateway("sim", port=8700, verifier=StoreVerifier(UserStore("users.db"))) as gw:
        print(gw.url)            # ws://127.0.0.1:8700/ws ; the page is gw.http_url
        await gw.serve_forever()

It binds ``127.0.0.1`` unless told otherwise. At the edge it refuses, before any websocket
handshake: a browser page from another origin (``allowed_origins``; default: the same origin and
loopback pages), a ``Host`` other than loopback names while bound to loopback (DNS rebinding),
and connections beyond ``Limits.max_connections`` in total or ``max_connections_per_address`` from
one address. While its event loop keeps running more than ``Limits.max_loop_lag`` behind
(``overload_samples`` samples in a row: it cannot keep up; ``gateway/load.py``; off unless set, as
``rxbybit gateway serve`` does), new websocket connections get HTTP 503 at once, with
``Retry-After``, instead of a handshake that hangs; open connections keep their service. Every
few seconds it re-checks each authorized session with its verifier (a removed, rotated or expired
token ends the session) and disconnects clients that stay over their outbound cap. ``network`` is ``"sim"`` (an
embedded simulator, shared by every user), ``"mainnet"``, ``"testnet"`` or a base URL such as
``ws://127.0.0.1:8765``.

Fan-out writes pre-built frames. An event is encoded once, JSON envelope and RFC 6455 frame, and
the same bytes go to every subscriber's socket through
:func:`rxbybit.transport.ws_internals.write_frame_directly` (the one place that touches websockets'
internals; it falls back to the library's ``broadcast`` whenever the bytes would not be what the
library sends); a burst to one connection within one event-loop turn goes out as one socket write
(``gateway/outbox.py``, with where the time per message goes). Plain ``broadcast`` encodes the
frame again for each connection. Measured (issue 13) with ``bench/bench_gateway.py`` on loopback
(simulator, gateway and clients in three processes, a 2-core machine shared with other work), two
runs of each path, alternating:

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
import collections
import contextlib
import http
import ipaddress
import logging
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from ..client import Bybit
from ..protocol import topics as T
from ..transport.ws_internals import abort
from .auth import TokenVerifier
from .fanout import Router
from .hub import ClientFactory, Hub, instrument_names
from .limits import AddressBuckets, Limits
from .load import LoopLag
from .outbox import Turn, WsOutbox
from .page import page_html
from .session import Session

if TYPE_CHECKING:
    from .bus import BusRouter

log = logging.getLogger("rxbybit.gateway")

DEFAULT_SYMBOLS: Final[tuple[tuple[T.Category, str], ...]] = (
    ("linear", "BTCUSDT"), ("linear", "ETHUSDT"), ("spot", "BTCUSDT"), ("spot", "ETHUSDT"),
)


PAGE_CSP: Final = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
                   "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
"""The try-it page's Content-Security-Policy: nothing from elsewhere, and no other site may frame it."""

LOOPBACK_NAMES: Final = frozenset(("localhost", "127.0.0.1", "::1"))


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
        allowed_origins: Sequence[str] = (),
        allowed_hosts: Sequence[str] | None = None,
        recheck_interval: float = 5.0,
        instruments: Mapping[str, Sequence[str]] | None = None,
        instruments_refresh: float = 3600.0,
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
        self.allowed_origins = tuple(o.rstrip("/").lower() for o in allowed_origins)
        self.allowed_hosts = None if allowed_hosts is None else frozenset(h.lower() for h in allowed_hosts)
        self.recheck_interval = recheck_interval
        self._instruments = instruments
        self.instruments_refresh = instruments_refresh
        self.refused: collections.Counter[str] = collections.Counter()
        """Connections refused at the door, by reason (origin, host, overloaded, connections, address)."""
        self._per_address: collections.Counter[str] = collections.Counter()
        self._auth_buckets = AddressBuckets(self.limits.auth_rate, self.limits.auth_burst)
        self._housekeeping: asyncio.Task[None] | None = None
        self._server: Server | None = None
        self._turn: Turn | None = None
        if not self.limits.loop_lag_interval > 0:
            raise ValueError(f"loop_lag_interval must be positive seconds, not {self.limits.loop_lag_interval!r}")
        self.load = LoopLag(self.limits.max_loop_lag, self.limits.overload_hold, self.limits.overload_samples)
        """The event loop's lag; new connections are refused while it is over ``Limits.max_loop_lag``."""
        self._probe: asyncio.Task[None] | None = None
        self._probe_due: float | None = None

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
        self.hub.instruments.update(await self._instrument_list())
        if self.bus is not None:
            try:
                await self.bus.start()
            except BaseException:
                await self.close()  # Redis unreachable: let go of the upstream clients too
                raise
        self._server = await serve(
            self._handle, self.host, self._port, process_request=self._process_request,
            max_size=self.limits.hard_max_message_bytes, compression=None, server_header="rxbybit-gateway",
        )
        sockets = list(self._server.sockets)
        if sockets:
            self._port = int(sockets[0].getsockname()[1])
        log.info("gateway on %s (network %s)", self.url, self.network)
        self._housekeeping = asyncio.get_running_loop().create_task(self._housekeep())
        self._probe = asyncio.get_running_loop().create_task(self._probe_lag())
        return self

    async def _probe_lag(self) -> None:
        """Sample how late the event loop wakes a timer, every ``Limits.loop_lag_interval`` seconds."""
        loop = asyncio.get_running_loop()
        interval = self.limits.loop_lag_interval
        while True:
            due = self._probe_due = loop.time() + interval
            await asyncio.sleep(interval)
            now = loop.time()
            self.load.sample(now - due, now)

    def overloaded(self) -> bool:
        """True while new connections are refused because the event loop runs too far behind."""
        return self.load.overloaded(asyncio.get_running_loop().time(), self._probe_due)

    def _bus_router(self, public: Bybit) -> Router:
        if self.bus_url is None:
            return Router(public)
        from .bus import BusRouter  # needs redis, only for replicas

        self.bus = BusRouter(public, self.bus_url)
        return self.bus

    async def refresh_instruments(self) -> None:
        """Read the instrument list again (new listings); a category whose read fails keeps its old list."""
        assert self.hub is not None
        self.hub.instruments.update(await self._instrument_list(refresh=True))

    async def _instrument_list(self, refresh: bool = False) -> dict[str, frozenset[str]]:
        """The instruments public topics may name: given, the simulator's, or the client's REST list if it has one."""
        if self._instruments is not None:
            return instrument_names(self._instruments)
        assert self.hub is not None
        sim = self.hub.public.simulator
        if sim is not None:
            return instrument_names({c: list(insts) for c, insts in sim.universe.items()})
        fetch = getattr(self.hub.public, "instruments", None)
        if fetch is None:
            log.warning("no instrument list available: public topics are checked by grammar only")
            return {}
        universe: dict[str, Any] = {}
        for category in ("spot", "linear", "inverse", "option"):
            try:
                async with asyncio.timeout(15):
                    universe[category] = list(await (fetch(category, refresh=True) if refresh else fetch(category)))
            except Exception as exc:
                log.warning("instrument list of %s unavailable (%s): its topics are checked by grammar only",
                            category, type(exc).__name__)
        return instrument_names(universe)

    async def _housekeep(self) -> None:
        """Every second: disconnect clients over their outbound cap too long; every ``recheck_interval``
        seconds: re-check each authorized session's token (revoked, rotated, expired, keys changed);
        every ``instruments_refresh`` seconds: read the instrument list again."""
        last_check = last_list = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            for session in tuple(self.sessions):
                session.check_slow()
            if time.monotonic() - last_check >= self.recheck_interval:
                last_check = time.monotonic()
                await self.recheck_sessions()
            if time.monotonic() - last_list >= self.instruments_refresh:
                last_list = time.monotonic()
                try:
                    await self.refresh_instruments()
                except Exception:
                    log.exception("refreshing the instrument list failed")

    async def recheck_sessions(self) -> int:
        """Re-check every authorized session now; returns how many were ended."""
        sessions = [s for s in self.sessions if s.identity is not None and not s.closed]
        ended = 0
        for i in range(0, len(sessions), 64):
            results = await asyncio.gather(*(s.recheck() for s in sessions[i:i + 64]), return_exceptions=True)
            for session, ok in zip(sessions[i:i + 64], results, strict=True):
                if isinstance(ok, BaseException):
                    log.warning("re-checking a session of %s failed: %s", session.identity and session.identity.user,
                                type(ok).__name__)
                elif not ok:
                    ended += 1
        return ended

    async def close(self) -> None:
        """Close every connection, the server and the upstream clients."""
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
            self._housekeeping = None
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
        host = request.headers.get("Host", "")
        if not self._host_allowed(host):
            return self._refuse(connection, "host", http.HTTPStatus.MISDIRECTED_REQUEST,
                                "this gateway does not serve that Host name\n")
        if request.headers.get("Upgrade", "").lower() == "websocket":
            origin = request.headers.get("Origin")
            if origin is not None and not self._origin_allowed(origin, host):
                return self._refuse(connection, "origin", http.HTTPStatus.FORBIDDEN,
                                    "pages from this origin may not connect to this gateway\n")
            if self.overloaded():
                lag = self.load.behind(asyncio.get_running_loop().time(), self._probe_due)
                response = self._refuse(connection, "overloaded", http.HTTPStatus.SERVICE_UNAVAILABLE,
                                        f"the gateway is overloaded (its event loop runs {lag * 1000:.0f} ms "
                                        "behind); try again later\n")
                response.headers["Retry-After"] = str(max(1, round(self.limits.overload_hold)))
                return response
            if len(self.sessions) >= self.limits.max_connections:
                return self._refuse(connection, "connections", http.HTTPStatus.SERVICE_UNAVAILABLE,
                                    "the gateway is full; try again later\n")
            if self._per_address[_address(connection)] >= self.limits.max_connections_per_address:
                return self._refuse(connection, "address", http.HTTPStatus.TOO_MANY_REQUESTS,
                                    "too many connections from this address\n")
            return None
        if request.path.split("?", 1)[0] in ("/", "/index.html"):
            public = self.hub.public if self.hub is not None else None
            label = public.provenance.label if public is not None and public.simulated else ""
            response = connection.respond(http.HTTPStatus.OK, page_html(label))
            del response.headers["Content-Type"]
            response.headers["Content-Type"] = "text/html; charset=utf-8"
            response.headers["Content-Security-Policy"] = PAGE_CSP
            response.headers["X-Frame-Options"] = "DENY"
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "no-referrer"
            return response
        return connection.respond(http.HTTPStatus.NOT_FOUND,
                                  "not found: the page is at / and the websocket at /ws\n")

    def _refuse(self, connection: ServerConnection, reason: str, status: http.HTTPStatus, body: str) -> Response:
        self.refused[reason] += 1
        return connection.respond(status, body)

    def _host_allowed(self, host: str) -> bool:
        """The ``Host`` header: any when bound beyond loopback (unless ``allowed_hosts``), else loopback names."""
        name = _hostname(host)
        if self.allowed_hosts is not None:
            return name in self.allowed_hosts or host.lower() in self.allowed_hosts
        if not _is_loopback(self.host):
            return True
        return name in LOOPBACK_NAMES or name == self.host.lower()

    def _origin_allowed(self, origin: str, host: str) -> bool:
        """A browser page may connect from the same origin, from a loopback page, or from ``allowed_origins``."""
        origin = origin.rstrip("/").lower()
        if "*" in self.allowed_origins or origin in self.allowed_origins:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False
        if parts.netloc == host.lower():
            return True
        return _is_loopback(parts.hostname or "")

    async def _handle(self, ws: ServerConnection) -> None:
        assert self.hub is not None
        address = _address(ws)
        self._per_address[address] += 1
        try:
            if (len(self.sessions) >= self.limits.max_connections
                    or self._per_address[address] > self.limits.max_connections_per_address):
                self.refused["connections" if len(self.sessions) >= self.limits.max_connections else "address"] += 1
                await ws.close(1013, "too many connections; try again later")
                return
            await self._serve_session(ws, address)
        finally:
            self._per_address[address] -= 1
            if self._per_address[address] <= 0:
                del self._per_address[address]

    async def _serve_session(self, ws: ServerConnection, address: str) -> None:
        assert self.hub is not None
        if self._turn is None:
            self._turn = Turn(asyncio.get_running_loop())
        session = Session(self.hub, WsOutbox(ws, self.limits.abuse_close_timeout, self._turn), self.verifier,
                          self.limits, address=address, auth_buckets=self._auth_buckets)
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


def _address(connection: ServerConnection) -> str:
    remote = connection.remote_address
    return str(remote[0]) if remote else "?"


def _hostname(host: str) -> str:
    """The name part of a ``Host`` header (``[::1]:8700`` -> ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
