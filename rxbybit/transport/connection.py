"""One self-healing websocket connection to one Bybit endpoint.

A :class:`Connection` owns a socket and keeps it alive: it (re)connects with an injected backoff
policy, authenticates first on private and trade sockets, pings every ``ping_interval`` seconds
with Bybit's JSON ping and replaces the socket when no pong arrives within ``pong_timeout``. What
to subscribe is not decided here: the socket's :class:`~rxbybit.protocol.subscriptions.Subscriptions`
state machine says which frames to send on connect, subscribe, unsubscribe, ack and failure, and
the connection only sends them. Frames are decoded with :func:`rxbybit.protocol.decode`; control
frames (pongs, acks, auth) are handled here and everything else is handed to ``on_event``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

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
from .backoff import BackoffPolicy, exponential_backoff
from .session import Waiters, authenticate, describe_error, heartbeat
from .ws_internals import DirectConnection

log = logging.getLogger("rxbybit.transport")

_CONTROL: frozenset[type[Event]] = frozenset((Pong, AuthResult, SubscribeAck, SubscribeFailure, Malformed, Unknown))



@dataclass
class ConnectionStats:
    """Counters a :class:`Connection` keeps for ``health``."""

    state: str = "idle"
    messages: int = 0
    reconnects: int = 0
    last_message_at: float | None = None
    last_error: str | None = None
    malformed: int = 0


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
    ) -> None:
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
        return () if self._subs is None else self._subs.wanted

    @property
    def confirmed(self) -> frozenset[str]:
        """Topics Bybit has acknowledged on the current socket."""
        return frozenset() if self._subs is None else self._subs.confirmed

    def start(self) -> None:
        """Start connecting in the background (idempotent). Needs a running event loop."""
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"rxbybit:{self.endpoint}")

    def subscribe(self, topics: Iterable[str]) -> None:
        """Subscribe ``topics`` now if connected, and after every reconnect."""
        subs = self._machine()
        self.start()
        self._apply(subs.want(topics))

    def unsubscribe(self, topics: Iterable[str]) -> None:
        """Stop streaming ``topics`` (also those whose subscribe is still in flight)."""
        if self._subs is not None:
            self._apply(self._subs.drop(topics))

    def resubscribe(self, topic: str) -> None:
        """Unsubscribe and subscribe ``topic`` again, to get a fresh snapshot (book resync)."""
        if self._subs is not None:
            self._apply(self._subs.refresh(topic))

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until connected (and authenticated). Raises the fatal error if auth failed."""
        self.start()
        if self._fatal is not None:
            raise self._fatal
        await asyncio.wait_for(self._ready.wait(), timeout)
        if self._fatal is not None:
            raise self._fatal

    async def send_text(self, text: str) -> None:
        """Send a raw frame on the live socket (trade requests). Raises if not connected."""
        ws = self._ws
        if ws is None or not self._ready.is_set():
            raise ConnectionClosedError(f"{self.endpoint} connection is not open")
        await ws.send(text)

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
        self._set_state("closed")

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

    def _apply(self, step: Step) -> None:
        """Send what the state machine asked for and report what it decided."""
        for frame in step.frames:
            self._send(frame)
        for topic, message in step.rejected:
            self._on_topic_error(topic, SubscriptionError(topic, message))
        if step.confirmed or step.rejected:
            self._on_subscriptions(self)

    async def _run(self) -> None:
        delays = None
        first = True
        while not self._closed:
            self._set_state("connecting" if first else "reconnecting")
            try:
                await self._session()
                delays = None  # a session that got going resets the backoff
            except asyncio.CancelledError:
                raise
            except (AuthenticationError, ConfigurationError) as exc:  # retrying cannot help
                self._fatal = exc
                self.stats.last_error = str(exc)
                log.error("%s", exc)
                wanted = self.topics
                if self._subs is not None:
                    self._subs.drop(wanted)
                for t in wanted:
                    self._on_topic_error(t, exc)
                self._ready.set()  # wake waiters so they see the error
                break
            except Exception as exc:  # network errors of every kind: heal
                self.stats.last_error = describe_error(exc, self.url, self._simulated)
                log.warning("%s: %s", self.endpoint, self.stats.last_error)
            finally:
                self._ready.clear()
                self._ws = None
                if self._subs is not None:
                    self._subs.disconnected()
                self._waiters.cancel()
                self._on_disconnect(self)
                self._on_subscriptions(self)
            if self._closed:
                break
            first = False
            self.stats.reconnects += 1
            self._set_state("reconnecting")
            if delays is None:
                delays = self._backoff()
            try:
                await asyncio.sleep(next(delays))
            except StopIteration:
                self.stats.last_error = (self.stats.last_error or "") + " (reconnect attempts exhausted)"
                break
        self._set_state("closed")

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

