"""The simulator's websocket server: Bybit's endpoints on loopback, driven by the market model.

``Simulator`` is an async context manager. It binds ``127.0.0.1`` by default, serves
``/v5/public/{spot,linear,inverse,option}``, ``/v5/private``, ``/v5/trade`` and the legacy
``/spot/public/v3`` and ``/spot/private/v3``, and runs one clock task that steps the market every
20 virtual ms and pushes every subscribed topic at its cadence. ``speed`` scales virtual time
(``speed=10``: ten times as many pushes per second, timestamps run ten times faster).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import secrets
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..protocol import replies
from ..protocol._json import JSONDecodeError, dumps, loads
from ..protocol.clock import now_ms as wall_ms
from ..protocol.endpoints import PATH_ENDPOINTS, needs_auth, req_id_key
from ..protocol.limits import (
    ARGS_CHAR_BUDGET,
    ARGS_PER_REQUEST_ENFORCED,
    MAX_ARGS_PER_CONNECTION,
    PRIVATE_IDLE_CUT_S,
    parse_max_active_time,
)
from ..protocol.topics import CATEGORIES, Category, Endpoint, parse
from ..transport import ws_internals as wsi
from .conn import Conn
from .desk import Desk
from .engine import Engine
from .faults import Faults
from .feeds import BookFeed, Feed, Sink, UnknownTopic, make_feed
from .instruments import build_universe
from .market import Market

log = logging.getLogger("rxbybit.sim")

STEP_MS: Final = 20
"""Virtual milliseconds between two market model steps."""
DEFAULT_SYMBOLS: Final = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT")
OPTION_MAX_ARGS: Final = MAX_ARGS_PER_CONNECTION["option"]
DEFAULT_MAX_IDLE_S: Final[dict[str, float]] = {"private": PRIVATE_IDLE_CUT_S, "trade": PRIVATE_IDLE_CUT_S}



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
    ) -> None:
        """``rate_limit`` overrides the WS trade requests allowed per second per op (None: Bybit's)."""
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        if not symbols:
            raise ValueError("symbols must name at least one symbol, e.g. ('BTCUSDT',)")
        self.host = host
        self.seed = seed
        self.speed = float(speed)
        self._port = port
        self.start_ms = start_ms if start_ms is not None else wall_ms()
        self.vt = 0.0
        """Virtual milliseconds since the start."""
        self.universe = build_universe(symbols, seed, self.start_ms)
        self.markets: dict[Category, dict[str, Market]] = {
            cat: {sym: Market(inst, seed, self.start_ms) for sym, inst in insts.items()}
            for cat, insts in self.universe.items()
        }
        self.faults = Faults(self)
        self.engine = Engine(self.markets, self.now_ms)
        self.desk = Desk(self, rate_limit=rate_limit)
        for key, secret in accounts:
            self.engine.add_account(key, secret)
        self.connections: set[Conn] = set()
        self._feeds: dict[tuple[Endpoint, str], Feed] = {}
        self._active: list[Feed] = []
        self._server: Server | None = None
        self._clock: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._next_step = 0.0
        self._conn_counter = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        """The bound port (the OS-chosen one when started with ``port=0``)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``ws://127.0.0.1:8765``; clients append ``/v5/public/linear`` etc."""
        return f"ws://{self.host}:{self._port}"

    def now_ms(self) -> int:
        """Simulated exchange time in epoch milliseconds (runs ``speed`` times faster than wall time)."""
        return self.start_ms + int(self.vt)

    async def start(self) -> Simulator:
        """Bind the server and start the clock."""
        await self._bind()
        if self._clock is None:
            self._clock = asyncio.create_task(self._run_clock(), name="rxbybit-sim-clock")
            self._watchdog = asyncio.create_task(self._run_watchdog(), name="rxbybit-sim-idle")
        return self

    async def _bind(self) -> None:
        self._server = await serve(
            self._handle, self.host, self._port, process_request=self._check_request,
            ping_interval=None, compression=None, max_size=2**20, server_header="rxbybit-sim",
        )
        sockets = list(self._server.sockets)
        if sockets:
            self._port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Close every connection and the server, and stop the clock."""
        for task in (self._clock, self._watchdog):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._clock = self._watchdog = None
        await self._unbind()

    async def _unbind(self) -> None:
        for c in list(self.connections):
            c.abort()
        if self._server is not None:
            self._server.close(close_connections=False)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        self.connections.clear()
        for feed in self._feeds.values():
            feed.subscribers.clear()
        self._active = []

    async def restart(self, downtime: float = 0.0) -> None:
        """Take the whole server down and up again on the same port (state of the market and
        accounts is kept; clients must reconnect, re-auth and resubscribe). Trade sockets get
        Bybit's ``10019`` notice first."""
        for c in list(self.connections):
            if c.endpoint == "trade":
                c.send_text(dumps(replies.trade_reply("", c.conn_id, replies.MISSING, 10019,
                                                     "Service is restarting, please reconnect", {}, None)))
        await asyncio.sleep(0)
        await self._unbind()
        if downtime > 0:
            await asyncio.sleep(downtime)
        await self._bind()

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return (f"Simulator(SIMULATED {self.url} seed={self.seed} speed={self.speed} "
                f"connections={len(self.connections)})")

    # ------------------------------------------------------------------ clock

    async def _run_clock(self) -> None:
        period = max(0.010 / self.speed, 0.002)
        last = time.monotonic()
        while True:
            await asyncio.sleep(period)
            mono = time.monotonic()
            self.vt += (mono - last) * 1000.0 * self.speed
            last = mono
            try:
                self.tick()
            except Exception:  # a bug must not freeze the market for everyone
                log.exception("simulator clock step failed")

    def tick(self) -> None:
        """One clock cycle: maybe step the market, then push every feed that is due."""
        now = self.now_ms()
        if self.vt >= self._next_step:
            self._next_step = (self.vt // STEP_MS + 1) * STEP_MS
            for markets in self.markets.values():
                for m in markets.values():
                    m.step(now)
            self.desk.after_market()
        vt = self.vt
        for feed in self._active:
            if vt >= feed.next_due:
                feed.next_due = (vt // feed.period_ms + 1) * feed.period_ms
                frames = feed.tick(now)
                if frames:
                    self.broadcast(feed.subscribers, frames)
        for c in self.connections:
            if c.pending and not c.stalled:
                c.flush()

    async def _run_watchdog(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            mono = time.monotonic()
            for c in list(self.connections):
                if c.max_idle_s is not None and mono - c.last_active > c.max_idle_s:
                    c.abort()

    @staticmethod
    def broadcast(conns: Iterable[Sink], frames: list[str]) -> None:
        """Write ``frames`` to every connection in ``conns``, in order."""
        encoded = [f.encode() for f in frames]
        for c in list(conns):
            if isinstance(c, Conn):
                for data in encoded:
                    c.send_bytes(data)
            else:
                for f in frames:
                    c.send_text(f)

    # ------------------------------------------------------------------ feeds

    def _market_map(self, endpoint: Endpoint) -> dict[str, Market]:
        if endpoint == "spot_v3_public":
            return self.markets["spot"]
        return self.markets[endpoint]  # type: ignore[index]

    def underlying_price(self, base: str) -> float:
        """Index price of a base coin for options: the linear market's mid."""
        for m in self.markets["linear"].values():
            if m.inst.base == base:
                return m.inst.pxf(m.mid() or m.ref)
        return 0.0

    def option_symbols(self, base: str | None = None) -> list[str]:
        """Simulated option symbols (of one base coin, e.g. ``"BTC"``, or all)."""
        return [s for s, m in self.markets["option"].items() if base is None or m.inst.base == base]

    def feed(self, endpoint: Endpoint, topic: str) -> Feed:
        """The feed of ``topic`` on ``endpoint`` (created on first use); raises ``ValueError``."""
        key = (endpoint, topic)
        feed = self._feeds.get(key)
        if feed is None:
            parsed = parse(topic, endpoint)
            feed = make_feed(parsed, self._market_map(endpoint), self.markets["option"].values(),
                             self.underlying_price)
            self._feeds[key] = feed
        return feed

    def book_feed(self, category: Category, topic: str) -> BookFeed:
        """The order book feed of ``topic``; raises ``ValueError`` if it is not a book topic."""
        feed = self.feed(category, topic)
        if not isinstance(feed, BookFeed):
            raise ValueError(f"{topic!r} is not an order book topic")
        return feed

    def published_book(self, category: Category, topic: str) -> tuple[int, list[tuple[float, float]],
                                                                     list[tuple[float, float]]]:
        """``(u, bids, asks)`` of ``topic`` exactly as last pushed (ground truth for tests)."""
        return self.book_feed(category, topic).published()

    def restart_books(self, category: Category, symbol: str) -> int:
        """Fault: every depth of ``symbol``'s book restarts at ``u == 1``."""
        if category not in CATEGORIES or symbol not in self.markets[category]:
            raise ValueError(f"no simulated {category} market {symbol!r}")
        now = self.now_ms()
        hit = 0
        for (ep, _topic), feed in self._feeds.items():
            if ep == category and isinstance(feed, BookFeed) and feed.market.inst.symbol == symbol:
                frames = feed.restart(now)
                hit += 1
                if frames:
                    self.broadcast(feed.subscribers, frames)
        return hit

    def _activate(self, feed: Feed) -> None:
        feed.activate(self.now_ms())
        feed.next_due = (self.vt // feed.period_ms + 1) * feed.period_ms
        self._active.append(feed)
        self._active.sort(key=lambda f: f.order)

    def _deactivate_if_idle(self, feed: Feed) -> None:
        if not feed.subscribers and feed in self._active:
            self._active.remove(feed)

    async def burst(self, category: Category, topic: str, n: int, rate: float | None = None) -> int:
        """Load for benchmarks: push ``n`` book deltas of ``topic`` to its subscribers.

        ``rate`` caps the pushes per second (None: as fast as possible). Returns frames pushed
        (per subscriber). The deltas are real changes of the book, so books stay consistent.
        """
        feed = self.book_feed(category, topic)
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n!r}")
        market = feed.market
        sent = 0
        start = time.monotonic()
        for i in range(n):
            market.perturb(feed.depth)
            frames = feed.tick(self.now_ms())
            if frames and feed.subscribers:
                self.broadcast(feed.subscribers, frames)
                sent += len(frames)
            if rate is not None:
                delay = start + (i + 1) / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                    continue
            if i % 64 == 63:
                await self._drain(feed.subscribers)
        await self._drain(feed.subscribers)
        return sent

    @staticmethod
    async def _drain(conns: Iterable[Sink]) -> None:
        await asyncio.sleep(0)
        for c in list(conns):
            if not isinstance(c, Conn):
                continue
            while not c.closed and wsi.buffered_bytes(c.ws) > 2**20:
                await asyncio.sleep(0.001)

    # ------------------------------------------------------------------ connections

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
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

    async def _handle(self, ws: ServerConnection) -> None:
        parts = urlsplit(ws.request.path if ws.request else "/")
        endpoint = PATH_ENDPOINTS[parts.path]
        self._conn_counter += 1
        conn = Conn(ws, endpoint, self._conn_id(endpoint), parts.path)
        conn.silent = self.faults.is_silent_path(parts.path)
        query = parse_qs(parts.query)
        if "max_active_time" in query and endpoint in ("private", "trade"):
            conn.max_idle_s = parse_max_active_time(query["max_active_time"][0])
        else:
            conn.max_idle_s = DEFAULT_MAX_IDLE_S.get(endpoint)
        fault_idle = self.faults.idle_limit_for(parts.path)
        if fault_idle is not None:
            conn.max_idle_s = fault_idle
        self.connections.add(conn)
        try:
            async for message in ws:
                text = message if isinstance(message, str) else bytes(message).decode("utf-8", "replace")
                try:
                    self._on_message(conn, text)
                except Exception:  # one bad request must not kill the connection
                    log.exception("simulator failed to handle a frame on %s", conn.path)
                    self._reply_error(conn, replies.MISSING, "", "error:internal error")
        except ConnectionClosed:
            pass
        finally:
            self._forget(conn)

    def _conn_id(self, endpoint: Endpoint) -> str:
        token = secrets.token_hex(10)
        if endpoint in ("spot", "linear", "inverse"):
            return f"sim-{token[:8]}-{token[8:12]}-{token[12:16]}-{self._conn_counter:04x}"
        return f"sim-{token}-{self._conn_counter:x}"

    def _forget(self, conn: Conn) -> None:
        conn.closed = True
        self.connections.discard(conn)
        for feed in conn.subs.values():
            if isinstance(feed, Feed):
                feed.subscribers.discard(conn)
                self._deactivate_if_idle(feed)
        conn.subs.clear()
        self.desk.forget(conn)

    def _reply(self, conn: Conn, frame: dict[str, Any]) -> None:
        conn.send_text(dumps(frame))

    def _reply_error(self, conn: Conn, req_id: Any, op: str, message: str) -> None:
        if conn.endpoint == "trade":
            self._reply(conn, replies.trade_reply(op, conn.conn_id, req_id, 10001, message, {}, None))
        else:
            self._reply(conn, replies.command_ack(conn.endpoint, conn.conn_id, op, req_id, success=False,
                                                 ret_msg=message))

    def _on_message(self, conn: Conn, text: str) -> None:
        try:
            msg = loads(text)
        except JSONDecodeError:
            msg = None
        if not isinstance(msg, dict):
            self._reply_error(conn, replies.MISSING, "", replies.decode_error(text))
            return
        op = msg.get("op")
        req_id = msg.get(req_id_key(conn.endpoint), replies.MISSING)
        if op == "ping":
            if not conn.silent:
                self._reply(conn, replies.pong(conn.endpoint, conn.conn_id, req_id, self.now_ms()))
            return
        if needs_auth(conn.endpoint):
            self.desk.on_message(conn, msg, op, req_id)
            return
        if op in ("subscribe", "unsubscribe"):
            self._public_command(conn, op, req_id, msg.get("args"))
            return
        if op == "auth":
            self._reply_error(conn, req_id, "auth", "error:auth is only served on private sockets")
            return
        self._reply_error(conn, req_id, op if isinstance(op, str) else "", replies.INVALID_OP)

    # ------------------------------------------------------------------ public subscribe

    def _public_command(self, conn: Conn, op: str, req_id: Any, args: Any) -> None:
        ep = conn.endpoint
        if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
            self._reply_error(conn, req_id, op, "error:args must be a non-empty list of topic strings")
            return
        limit = ARGS_PER_REQUEST_ENFORCED.get(ep)
        if limit is not None and len(args) > limit:
            self._reply_error(conn, req_id, op, replies.args_size(limit))
            return
        if op == "unsubscribe":
            removed = [t for t in args if t in conn.subs]
            for t in removed:
                self._unsubscribe(conn, t)
            if ep == "option":
                self._reply(conn, replies.option_command_resp(conn.conn_id, op, req_id, removed,
                                                             [t for t in args if t not in removed]))
            else:
                self._reply(conn, replies.command_ack(ep, conn.conn_id, op, req_id))
            return
        if ep == "option":
            self._option_subscribe(conn, req_id, args)
            return
        feeds: list[Feed] = []
        chars = conn.sub_chars
        for topic in args:
            error = self._check_topic(conn, topic, args)
            if error is None:
                chars += len(topic)
                if chars > ARGS_CHAR_BUDGET:
                    error = replies.args_too_long(ARGS_CHAR_BUDGET, topic)
            if error is not None:
                self._reply_error(conn, req_id, op, error)
                return
            feeds.append(self.feed(ep, topic))
        self._reply(conn, replies.command_ack(ep, conn.conn_id, op, req_id))
        for topic, feed in zip(args, feeds, strict=True):
            self._subscribe(conn, topic, feed)

    def _check_topic(self, conn: Conn, topic: str, batch: list[str]) -> str | None:
        rejected = self.faults.take_reject(topic)
        if rejected is not None:
            return rejected
        if topic in conn.subs or batch.count(topic) > 1:
            return replies.already_subscribed(topic)
        try:
            self.feed(conn.endpoint, topic)
        except (ValueError, UnknownTopic):
            return replies.handler_not_found(topic)
        return None

    def _option_subscribe(self, conn: Conn, req_id: Any, args: list[str]) -> None:
        ok: list[str] = []
        failed: list[str] = []
        for topic in args:
            if self._check_topic(conn, topic, args) is None and len(conn.subs) < OPTION_MAX_ARGS:
                ok.append(topic)
            else:
                failed.append(topic)
        self._reply(conn, replies.option_command_resp(conn.conn_id, "subscribe", req_id, ok, failed))
        for topic in ok:
            self._subscribe(conn, topic, self.feed("option", topic))

    def _subscribe(self, conn: Conn, topic: str, feed: Feed) -> None:
        if not feed.active:
            self._activate(feed)
        frames = feed.on_subscribe(self.now_ms())
        feed.subscribers.add(conn)
        conn.subs[topic] = feed
        conn.sub_chars += len(topic)
        for f in frames:
            conn.send_text(f)

    def _unsubscribe(self, conn: Conn, topic: str) -> None:
        feed = conn.subs.pop(topic, None)
        conn.sub_chars -= len(topic)
        if isinstance(feed, Feed):
            feed.subscribers.discard(conn)
            self._deactivate_if_idle(feed)


def _http_error(status: http.HTTPStatus, text: str) -> Response:
    body = f"{status.value} {status.phrase}: {text}\n".encode()
    headers = Headers([("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                       ("Connection", "close")])
    return Response(status.value, status.phrase, headers, body)
