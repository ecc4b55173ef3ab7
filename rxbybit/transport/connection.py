"""One self-healing websocket connection to one Bybit endpoint.

A :class:`Connection` owns a socket and keeps it alive: it (re)connects with an injected backoff
policy, authenticates first on private and trade sockets, pings every ``ping_interval`` seconds
with Bybit's JSON ping and replaces the socket when no pong arrives within ``pong_timeout``. What
to subscribe is not decided here: the socket's :class:`~rxbybit.protocol.subscriptions.Subscriptions`
state machine says which frames to send on connect, subscribe, unsubscribe, ack and failure, and
the connection only sends them. Frames are decoded with :func:`rxbybit.protocol.decode`; control
frames (pongs, acks, auth) are handled here and everything else is handed to ``on_event``.

Subscribe and unsubscribe calls made in the same event-loop iteration are coalesced: the state
machine sees their net effect once, so they leave as one request per op (split to Bybit's limits),
and subscription requests leave at a bounded rate (:data:`REQUESTS_PER_S`, bursts of
:data:`REQUEST_BURST`); calls made while requests wait for the rate join the next batch. So a
gateway with many clients sends Bybit few, large requests instead of one per topic and observer.

Backoff: a session that stayed up :data:`~.backoff.HEALTHY_SESSION_S` seconds starts the next
outage from the policy's first (short) delay, however it ended. One warning line is logged when a
connection is lost and one when it is back; each failed attempt goes to the debug level and to
``stats``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Final

import websockets
from websockets.asyncio.client import ClientConnection, connect

from ..errors import AuthenticationError, ConfigurationError, ConnectionClosedError, SubscriptionError
from ..protocol import requests
from ..protocol.decode import decode
from ..protocol.endpoints import SIMULATOR_HEADER, Endpoint, takes_subscriptions
from ..protocol.events import (
    AuthResult,
    Event,
    Malformed,
    Pong,
    SubscribeAck,
    SubscribeFailure,
    Unknown,
)
from ..protocol.signing import Credentials
from ..protocol.subscriptions import Step, Subscriptions
from .backoff import HEALTHY_SESSION_S, BackoffPolicy, exponential_backoff
from .session import Waiters, authenticate, describe_error, heartbeat
from .ws_internals import DirectConnection, abort, is_open

log = logging.getLogger("rxbybit.transport")

_CONTROL: frozenset[type[Event]] = frozenset((Pong, AuthResult, SubscribeAck, SubscribeFailure, Malformed, Unknown))

REQUESTS_PER_S: Final = 10.0
"""Subscribe/unsubscribe requests one connection sends per second at most, once its burst is spent."""
REQUEST_BURST: Final = 20
"""Subscription requests one connection may send at once before :data:`REQUESTS_PER_S` applies."""


@dataclass
class ConnectionStats:
    """Counters a :class:`Connection` keeps for ``health``."""

    state: str = "idle"
    messages: int = 0
    reconnects: int = 0
    """Connection attempts after a lost or failed one."""
    last_message_at: float | None = None
    last_error: str | None = None
    malformed: int = 0
    outages: int = 0
    """Times a connected socket was lost."""
    failed_attempts: int = 0
    """Attempts since the last connected session that did not get connected."""
    connected_at: float | None = None
    """``time.monotonic()`` when the current session got ready (None while not connected)."""
    down_since: float | None = None
    """``time.monotonic()`` when the connection was last lost (None while connected)."""
    last_outage_s: float | None = None
    """How long the last outage lasted, lost to back."""
    requests_sent: int = 0
    """Subscribe and unsubscribe requests sent."""


class Connection:
    """A websocket to one endpoint that reconnects, re-authenticates and resubscribes by itself.

    ``compression`` is off by default: permessage-deflate costs more CPU per frame than it saves
    on Bybit's small frames (pass ``"deflate"`` to offer it).
    ``url`` may be an async callable that returns the URL (resolved on the first connect), so a
    connection can be created before, say, the embedded simulator has started.

    Callbacks run on the event loop thread: ``on_event(event)`` for data pushes and replies that
    are not handled here, ``on_topic_error(topic, exc)`` when Bybit rejects a topic (or auth
    fails), ``on_state(connection)`` whenever the state changes and ``on_disconnect(connection)``
    each time a socket is lost (before any reconnect).
    """

    def __init__(
        self,
        url: str | Callable[[], Awaitable[str]],
        endpoint: Endpoint,
        *,
        on_event: Callable[[Event], None],
        on_topic_error: Callable[[str, Exception], None] | None = None,
        on_state: Callable[[Connection], None] | None = None,
        on_disconnect: Callable[[Connection], None] | None = None,
        on_frame: Callable[[str | bytes], None] | None = None,
        on_subscriptions: Callable[[Connection], None] | None = None,
        credentials: Credentials | None = None,
        backoff: BackoffPolicy | None = None,
        ping_interval: float = 20.0,
        pong_timeout: float = 10.0,
        open_timeout: float = 10.0,
        auth_timeout: float = 10.0,
        simulated: bool = False,
        compression: str | None = None,
        healthy_after: float = HEALTHY_SESSION_S,
        requests_per_s: float = REQUESTS_PER_S,
        request_burst: int = REQUEST_BURST,
    ) -> None:
        if requests_per_s <= 0 or request_burst < 1:
            raise ValueError("requests_per_s must be positive and request_burst at least 1")
        self.url = url
        self._compression = compression
        self.endpoint = endpoint
        self.stats = ConnectionStats()
        self._on_event = on_event
        self._on_topic_error = on_topic_error or (lambda topic, exc: None)
        self._on_state = on_state or (lambda conn: None)
        self._on_disconnect = on_disconnect or (lambda conn: None)
        self._on_subscriptions = on_subscriptions or (lambda conn: None)
        self.on_frame = on_frame
        """Optional tap on every raw frame received (for recording), called before decoding."""
        self._credentials = credentials
        self._backoff = backoff or exponential_backoff()
        self._ping_interval = ping_interval
        self._pong_timeout = pong_timeout
        self._open_timeout = open_timeout
        self._auth_timeout = auth_timeout
        self._simulated = simulated
        self.simulator_announced: str | None = None
        """What the server said in its handshake if it is the rxbybit simulator (``"1"``, or
        ``"replay"`` for a recording played back); None for the exchange."""
        self._subs = (
            Subscriptions(endpoint, next_req_id=lambda: requests.next_req_id("sub"))
            if takes_subscriptions(endpoint) else None
        )
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._ready = asyncio.Event()  # set while connected (and authenticated)
        self._waiters = Waiters()
        self._fatal: Exception | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self._healthy_after = healthy_after
        self._intents: dict[str, bool] = {}  # topic -> wanted, not yet handed to the state machine
        self._bounced: set[str] = set()  # dropped then wanted again within one batch: subscribe afresh
        self._refresh: dict[str, None] = {}
        self._outbox: deque[str] = deque()  # subscription frames waiting for the rate limit
        self._flush_handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self._rate = requests_per_s
        self._burst = float(request_burst)
        self._tokens = float(request_burst)
        self._tokens_at = 0.0
        self.direct = True
        """Hand frames over straight from the socket callback (False: through websockets' queue)."""

    # ------------------------------------------------------------------ public API

    @property
    def state(self) -> str:
        """``idle``, ``connecting``, ``connected``, ``reconnecting`` or ``closed``."""
        return self.stats.state

    @property
    def topics(self) -> tuple[str, ...]:
        """Topics this connection keeps subscribed (across reconnects)."""
        if self._subs is None:
            return ()
        wanted = dict.fromkeys(self._subs.wanted)
        for t, want in self._intents.items():
            if want:
                wanted[t] = None
            else:
                wanted.pop(t, None)
        return tuple(wanted)

    @property
    def confirmed(self) -> frozenset[str]:
        """Topics Bybit has acknowledged on the current socket."""
        return frozenset() if self._subs is None else self._subs.confirmed

    @property
    def settled(self) -> bool:
        """True when no subscription change waits to be sent or answered and Bybit holds exactly
        :attr:`topics` (always True for sockets without subscriptions)."""
        if self._subs is None:
            return True
        return not self._intents and not self._refresh and not self._outbox and self._subs.is_settled()

    def start(self) -> None:
        """Start connecting in the background (idempotent). Needs a running event loop."""
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"rxbybit:{self.endpoint}")

    def subscribe(self, topics: Iterable[str]) -> None:
        """Subscribe ``topics`` now if connected, and after every reconnect.

        Calls made in the same loop iteration leave as one request (see the module docs).
        """
        self._machine()
        self.start()
        for t in topics:
            if self._intents.get(t) is False:
                self._bounced.add(t)  # disposed and observed again: the new observer needs a snapshot
            self._intents[t] = True
        self._schedule()

    def unsubscribe(self, topics: Iterable[str]) -> None:
        """Stop streaming ``topics`` (also those whose subscribe is still in flight)."""
        if self._subs is None:
            return
        for t in topics:
            self._intents[t] = False
            self._bounced.discard(t)
        self._schedule()

    def resubscribe(self, topic: str) -> None:
        """Unsubscribe and subscribe ``topic`` again, to get a fresh snapshot (book resync)."""
        if self._subs is not None:
            self._refresh[topic] = None
            self._schedule()

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until connected (and authenticated). Raises the fatal error if auth failed."""
        self.start()
        if self._fatal is not None:
            raise self._fatal
        await asyncio.wait_for(self._ready.wait(), timeout)
        if self._fatal is not None:
            raise self._fatal

    def can_send(self) -> bool:
        """True when :meth:`send_text` would hand a frame to an open socket right now."""
        ws = self._ws
        return ws is not None and self._ready.is_set() and is_open(ws)

    async def send_text(self, text: str) -> None:
        """Send a raw frame on the live socket (trade requests).

        Raises :class:`~rxbybit.errors.ConnectionClosedError` when the socket is not open (nothing
        was sent: check :meth:`can_send` first to know) or when it closed while the frame was
        being written (it may have reached the exchange).
        """
        ws = self._ws
        if ws is None or not self.can_send():
            raise ConnectionClosedError(f"the {self.endpoint} connection is not open; nothing was sent")
        try:
            await ws.send(text)
        except websockets.ConnectionClosed as exc:
            raise ConnectionClosedError(f"the {self.endpoint} connection closed while sending: {exc}") from exc

    async def close(self) -> None:
        """Close the socket and stop reconnecting."""
        self._closed = True
        self._ready.clear()
        task, self._task = self._task, None
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 1.0)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._cancel_flush()
        self._set_state("closed")

    def close_now(self) -> None:
        """Close without awaiting (for finalizers): drop the socket and stop reconnecting."""
        self._closed = True
        self._ready.clear()
        task, self._task = self._task, None
        if self._ws is not None:
            abort(self._ws)
        if task is not None and not task.done():
            with contextlib.suppress(RuntimeError):  # the loop may be closed already
                task.cancel()
        self._cancel_flush()
        self.stats.state = "closed"

    def __repr__(self) -> str:
        return f"Connection({self.url!r}, state={self.state}, topics={len(self.topics)})"

    # ------------------------------------------------------------------ internals

    def _set_state(self, state: str) -> None:
        if self.stats.state != state:
            self.stats.state = state
            self._on_state(self)

    def _send(self, text: str) -> None:
        ws = self._ws
        if ws is not None:
            task = asyncio.get_running_loop().create_task(self._send_safely(ws, text))
            self._sends.add(task)  # keep a reference until done (the loop holds only weak ones)
            task.add_done_callback(self._sends.discard)

    @staticmethod
    async def _send_safely(ws: ClientConnection, text: str) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(text)

    def _machine(self) -> Subscriptions:
        if self._subs is None:
            raise ValueError(f"the {self.endpoint} socket takes no subscriptions")
        return self._subs

    def _report(self, step: Step) -> None:
        """Tell the owner what the state machine decided."""
        for topic, message in step.rejected:
            self._on_topic_error(topic, SubscriptionError(topic, message))
        if step.confirmed or step.rejected:
            self._on_subscriptions(self)

    def _apply(self, step: Step) -> None:
        """Queue what the state machine asked for, send what the rate allows, report its decisions."""
        self._outbox.extend(step.frames)
        self._report(step)
        if self._outbox:
            self._schedule()

    def _schedule(self, delay: float = 0.0) -> None:
        if self._flush_handle is not None or self._closed:
            return
        loop = asyncio.get_running_loop()
        self._flush_handle = loop.call_later(delay, self._flush) if delay > 0 else loop.call_soon(self._flush)

    def _cancel_flush(self) -> None:
        handle, self._flush_handle = self._flush_handle, None
        if handle is not None:
            handle.cancel()

    def _flush(self) -> None:
        """Send queued frames the rate allows; once none wait, hand the batched calls to the machine."""
        self._flush_handle = None
        subs = self._subs
        if subs is None or self._closed:
            return
        wait = self._drain()
        if wait:
            self._schedule(wait)  # calls made meanwhile join the next batch
            return
        if not (self._intents or self._refresh):
            return
        intents, self._intents = self._intents, {}
        bounced, self._bounced = self._bounced, set()
        refresh, self._refresh = self._refresh, {}
        drops = [t for t, want in intents.items() if not want or t in bounced]
        wants = [t for t, want in intents.items() if want]
        step = subs.drop(drops) if drops else Step()
        if wants:
            step.extend(subs.want(wants))
        if refresh:
            step.extend(subs.refresh(refresh))
        self._outbox.extend(step.frames)
        self._report(step)
        wait = self._drain()
        if wait:
            self._schedule(wait)

    def _drain(self) -> float:
        """Send queued frames while tokens last; the seconds until the next token if some wait."""
        outbox = self._outbox
        if not outbox:
            return 0.0
        if self._ws is None:
            return 0.0  # sent again by the state machine after the reconnect
        now = asyncio.get_running_loop().time()
        self._tokens = min(self._burst, self._tokens + (now - self._tokens_at) * self._rate)
        self._tokens_at = now
        while outbox and self._tokens >= 1.0:
            self._tokens -= 1.0
            self.stats.requests_sent += 1
            self._send(outbox.popleft())
        return (1.0 - self._tokens) / self._rate + 1e-3 if outbox else 0.0

    async def _run(self) -> None:
        delays = None
        first = True
        stats = self.stats
        while not self._closed:
            self._set_state("connecting" if first else "reconnecting")
            error: str | None = None
            try:
                await self._session()
                error = "the server closed the connection"
            except asyncio.CancelledError:
                raise
            except (AuthenticationError, ConfigurationError) as exc:  # retrying cannot help
                self._fatal = exc
                stats.last_error = str(exc)
                log.error("%s", exc)
                wanted = self.topics
                self._intents.clear()
                if self._subs is not None:
                    self._subs.drop(wanted)
                for t in wanted:
                    self._on_topic_error(t, exc)
                self._ready.set()  # wake waiters so they see the error
                break
            except Exception as exc:  # network errors of every kind: heal
                error = stats.last_error = describe_error(exc, self.url, self._simulated)
            finally:
                self._ready.clear()
                self._ws = None
                self._outbox.clear()  # frames for the dead socket; the machine starts afresh
                if self._subs is not None:
                    self._subs.disconnected()
                self._waiters.cancel()
                self._lost(error)
                self._on_disconnect(self)
                self._on_subscriptions(self)
            if self._closed:
                break
            connected_at, stats.connected_at = stats.connected_at, None
            if connected_at is not None and time.monotonic() - connected_at >= self._healthy_after:
                delays = None  # a healthy session, however it ended: the next outage starts short
            first = False
            stats.reconnects += 1
            self._set_state("reconnecting")
            if delays is None:
                delays = self._backoff()
            try:
                await asyncio.sleep(next(delays))
            except StopIteration:
                stats.last_error = (stats.last_error or "") + " (reconnect attempts exhausted)"
                log.warning("%s: reconnect attempts exhausted; the connection stays closed", self.endpoint)
                break
        self._set_state("closed")

    def _lost(self, error: str | None) -> None:
        """A session ended: one warning when a connected socket is lost (or the first connect fails),
        debug lines for each further failed attempt."""
        stats = self.stats
        now = time.monotonic()
        if stats.connected_at is not None:
            stats.outages += 1
            stats.down_since = now
            stats.failed_attempts = 0
            if not self._closed:
                log.warning("%s: connection lost (%s); reconnecting", self.endpoint, error)
            return
        stats.failed_attempts += 1
        if stats.down_since is None and stats.failed_attempts == 1 and not self._closed:
            log.warning("%s: cannot connect (%s); retrying", self.endpoint, error)
        else:
            log.debug("%s: attempt %d failed: %s", self.endpoint, stats.failed_attempts, error)

    def _became_ready(self) -> None:
        stats = self.stats
        now = time.monotonic()
        stats.connected_at = now
        if stats.down_since is not None or stats.failed_attempts:
            since = stats.down_since
            outage = None if since is None else now - since
            stats.last_outage_s = outage
            if outage is None:
                log.warning("%s: connected after %d failed attempt(s)", self.endpoint, stats.failed_attempts)
            else:
                log.warning("%s: connection back after %.2f s (%d failed attempt(s))", self.endpoint, outage,
                            stats.failed_attempts)
        stats.down_since = None
        stats.failed_attempts = 0

    async def _resolve_url(self) -> str:
        if not isinstance(self.url, str):
            self.url = await self.url()
        return self.url

    async def _session(self) -> None:
        url = await self._resolve_url()
        async with connect(
            url, open_timeout=self._open_timeout, ping_interval=None, close_timeout=1.0, max_size=2**24,
            compression=self._compression, create_connection=DirectConnection,
        ) as ws:
            self._ws = ws
            if ws.response is not None and SIMULATOR_HEADER in ws.response.headers:
                self.simulator_announced = ws.response.headers[SIMULATOR_HEADER]
            if isinstance(ws, DirectConnection) and self.direct:
                ws.on_text = self._handle_frame
            reader = asyncio.get_running_loop().create_task(self._read(ws))
            try:
                if self._credentials is not None:
                    await authenticate(ws, self._credentials, self.endpoint, self._waiters, reader,
                                       self._auth_timeout)
                self._ready.set()
                self._became_ready()
                self._set_state("connected")
                if self._subs is not None:
                    self._apply(self._subs.connected())
                heart = asyncio.get_running_loop().create_task(
                    heartbeat(ws, self._waiters, self._ping_interval, self._pong_timeout, url))
                try:
                    done, _ = await asyncio.wait({reader, heart}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    heart.cancel()
                for t in done:
                    exc = t.exception()
                    if exc is not None:
                        raise exc
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader

    def _handle_frame(self, raw: str | bytes | bytearray | memoryview) -> None:
        """Count, tap, decode and route one frame. Never raises: a bug downstream is logged and
        must not take the socket down (this also runs inside the protocol callback)."""
        stats = self.stats
        stats.messages += 1
        stats.last_message_at = time.monotonic()
        try:
            if self.on_frame is not None:
                self.on_frame(raw if isinstance(raw, (str, bytes)) else bytes(raw))
            event = decode(raw)
            if type(event) in _CONTROL:
                self._dispatch(event)
            else:  # data: straight through
                self._on_event(event)
        except Exception:
            log.exception("%s: error while handling a frame; the connection goes on", self.endpoint)

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:  # frames the direct path did not take (and the end of the socket)
            self._handle_frame(raw)

    def _dispatch(self, event: Event) -> None:
        """A control frame: a reply somebody waits for, a subscription answer, or a bad frame."""
        if self._waiters.resolve(event):
            return
        if isinstance(event, SubscribeAck):
            if self._subs is not None:
                self._apply(self._subs.on_ack(event))
            return
        elif isinstance(event, SubscribeFailure):
            if self._subs is not None:
                self._apply(self._subs.on_failure(event))
            if not event.already_subscribed:
                log.warning("%s: %s failed: %s", self.endpoint, event.op, event.message)
            return
        elif isinstance(event, (Malformed, Unknown)):
            self.stats.malformed += 1
            log.warning("%s: %s frame ignored: %.200s", self.endpoint, type(event).__name__, event.raw)
        self._on_event(event)

