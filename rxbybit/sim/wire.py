"""The simulator's server I/O: Bybit's paths on one port, handshake checks, connections, frames in.

Binds ``127.0.0.1`` by default and serves every path of :data:`~rxbybit.protocol.endpoints.PATH_ENDPOINTS`.
Each text frame is parsed once; pings are answered here (every socket has its own pong shape),
anything else goes to the desk of the socket's endpoint. A watchdog cuts connections idle for
longer than their limit (Bybit's on private and trade sockets, or a fault's).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..protocol import replies
from ..protocol.endpoints import PATH_ENDPOINTS, SIMULATOR_HEADER, Endpoint, req_id_key
from ..protocol.json_codec import JSONDecodeError, loads
from ..protocol.limits import idle_cut_s, parse_max_active_time
from ..protocol.replies import ReqId
from .conn import Conn
from .tasks import Background

log = logging.getLogger("rxbybit.sim")

WATCHDOG_PERIOD_S: Final = 0.05
"""How often idle connections are looked for."""


class Desk(Protocol):
    """What handles the non-ping frames of one kind of socket."""

    def on_message(self, conn: Conn, msg: dict[str, Any], op: Any, req_id: ReqId) -> None:
        """Handle one parsed frame (a JSON object) from ``conn``."""

    def forget(self, conn: Conn) -> None:
        """``conn`` closed: drop what it held."""


class ConnPolicy(Protocol):
    """Per-path settings a new connection starts with (the faults in force)."""

    def is_silent_path(self, path: str) -> bool:
        """True when connections on ``path`` must not answer pings."""

    def idle_limit_for(self, path: str) -> float | None:
        """An idle limit that overrides the endpoint's, if any."""


class WireServer:
    """Listens, accepts, reads and dispatches; the desks and the clock do the exchange's work.

    ``desks`` maps each endpoint to its desk; ``now_ms`` is exchange time (for pongs);
    ``connections`` is the set this server keeps every open connection in (shared with the desks).
    """

    def __init__(self, host: str, port: int, desks: Mapping[Endpoint, Desk], policy: ConnPolicy,
                 now_ms: Callable[[], int], connections: set[Conn]) -> None:
        self.host, self.port = host, port
        """Where to listen; ``port`` becomes the bound one."""
        self.desks, self.policy, self.now_ms = desks, policy, now_ms
        self.connections = connections
        self._server: Server | None = None
        self.http: Callable[[Request], Response | None] | None = None
        """Answers plain HTTP requests (the REST API) before any websocket check; None: not ours."""
        self._conn_counter = 0
        self.latency_s = 0.0
        """Simulated network latency of every new connection's frames (seconds)."""
        self.watchdog = Background("rxbybit-sim-idle", self._run_watchdog)
        """Cuts connections idle past their limit, while started."""

    # ------------------------------------------------------------------ lifecycle

    async def bind(self) -> None:
        """Listen on ``host:port`` (``port=0``: the OS picks one, kept across restarts)."""
        self._server = await serve(
            self._handle, self.host, self.port, process_request=self._check_request,
            process_response=_announce,
            ping_interval=None, compression=None, max_size=2**20, server_header="rxbybit-sim",
        )
        sockets = list(self._server.sockets)
        if sockets:
            self.port = int(sockets[0].getsockname()[1])

    async def unbind(self) -> None:
        """Drop every connection (no close frame) and stop listening."""
        for c in list(self.connections):
            c.abort()
        if self._server is not None:
            self._server.close(close_connections=False)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        self.connections.clear()

    async def _run_watchdog(self) -> None:
        while True:
            await asyncio.sleep(WATCHDOG_PERIOD_S)
            mono = time.monotonic()
            for c in list(self.connections):
                if c.max_idle_s is not None and mono - c.last_active > c.max_idle_s:
                    c.abort()

    def flush_held(self) -> None:
        """Send what expired stalls held back, and replies whose time has come."""
        now = time.monotonic()
        for c in self.connections:
            if c.pending and not c.stalled:
                c.flush()
            if c.late or c.in_flight:
                c.release_late(now)

    # ------------------------------------------------------------------ connections

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        answer = self.http(request) if self.http is not None else None
        if answer is not None:
            return answer
        parts = urlsplit(request.path)
        if parts.path not in PATH_ENDPOINTS:
            return _http_error(http.HTTPStatus.NOT_FOUND,
                               f"unknown path {parts.path!r}; the simulator serves {', '.join(PATH_ENDPOINTS)}")
        query = parse_qs(parts.query)
        if "max_active_time" in query:
            try:
                parse_max_active_time(query["max_active_time"][0])
            except ValueError as exc:
                return _http_error(http.HTTPStatus.BAD_REQUEST, str(exc))
        return None

    def _open(self, ws: ServerConnection) -> Conn:
        parts = urlsplit(ws.request.path if ws.request else "/")
        endpoint = PATH_ENDPOINTS[parts.path]
        self._conn_counter += 1
        conn = Conn(ws, endpoint, self._conn_id(endpoint), parts.path)
        conn.silent = self.policy.is_silent_path(parts.path)
        conn.latency_s = self.latency_s
        asked = parse_qs(parts.query).get("max_active_time")
        conn.max_idle_s = idle_cut_s(endpoint, asked[0] if asked else None)
        fault_idle = self.policy.idle_limit_for(parts.path)
        if fault_idle is not None:
            conn.max_idle_s = fault_idle
        return conn

    async def _handle(self, ws: ServerConnection) -> None:
        conn = self._open(ws)
        self.connections.add(conn)
        try:
            async for message in ws:
                self.dispatch(conn, message if isinstance(message, str) else bytes(message).decode("utf-8", "replace"))
        except ConnectionClosed:
            pass
        finally:
            self.forget(conn)

    def _conn_id(self, endpoint: Endpoint) -> str:
        return conn_id(endpoint, self._conn_counter)

    def forget(self, conn: Conn) -> None:
        """``conn`` closed: forget it and everything it subscribed."""
        conn.closed = True
        self.connections.discard(conn)
        self.desks[conn.endpoint].forget(conn)

    # ------------------------------------------------------------------ frames

    def dispatch(self, conn: Conn, text: str) -> None:
        """Handle one text frame from ``conn``; a failure answers ``internal error`` and keeps the socket."""
        try:
            self._on_message(conn, text)
        except Exception:  # one bad request must not kill the connection
            log.exception("simulator failed to handle a frame on %s", conn.path)
            conn.reply_error(replies.MISSING, "", replies.INTERNAL_ERROR)

    def _on_message(self, conn: Conn, text: str) -> None:
        try:
            msg = loads(text)
        except JSONDecodeError:
            msg = None
        if not isinstance(msg, dict):
            conn.reply_error(replies.MISSING, "", replies.decode_error(text))
            return
        op = msg.get("op")
        req_id = msg.get(req_id_key(conn.endpoint), replies.MISSING)
        if op == "ping":
            if not conn.silent:
                conn.reply(replies.pong(conn.endpoint, conn.conn_id, req_id, self.now_ms()))
            return
        self.desks[conn.endpoint].on_message(conn, msg, op, req_id)


def _announce(connection: ServerConnection, request: Request, response: Response) -> None:
    """Say in every handshake that this is the simulator, so any client pointed at it labels the data."""
    response.headers[SIMULATOR_HEADER] = "1"


_BASE32HEX: Final = "0123456789abcdefghijklmnopqrstuv"
_BASE36: Final = "0123456789abcdefghijklmnopqrstuvwxyz"


def conn_id(endpoint: Endpoint, counter: int) -> str:
    """A ``conn_id`` in Bybit's 2026 shape on every V5 socket (observed): a 20-character base32
    id (12 bytes: 4 of time, 8 random), a dash and a base36 suffix, e.g. ``cejreaspqfh3sjdnldmg-2t``.
    The legacy spot v3 sockets keep 8 hex digits (``46f097b7``)."""
    if endpoint.startswith("spot_v3"):
        return secrets.token_hex(4)
    raw = int.from_bytes(int(time.time()).to_bytes(4, "big") + secrets.token_bytes(8), "big") << 4
    head = "".join(_BASE32HEX[(raw >> (5 * i)) & 31] for i in range(19, -1, -1))
    n, tail = counter, ""
    while True:
        n, r = divmod(n, 36)
        tail = _BASE36[r] + tail
        if not n:
            break
    return f"{head}-{tail}"


def _http_error(status: http.HTTPStatus, text: str) -> Response:
    body = f"{status.value} {status.phrase}: {text}\n".encode()
    headers = Headers([("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                       ("Connection", "close")])
    return Response(status.value, status.phrase, headers, body)
