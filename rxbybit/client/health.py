"""Connection health: what ``Bybit.health`` emits, and the monitor that builds it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from reactivex import abc

from .stream import Stream
from .streams import Fanout

if TYPE_CHECKING:
    from ..protocol.endpoints import Endpoint
    from .pool import ConnectionPool
    from .router import TopicEntry, TopicRouter

ConnectionState = Literal["idle", "connecting", "connected", "reconnecting", "closed"]


@dataclass(frozen=True, slots=True)
class TopicHealth:
    """Per-topic counters."""

    topic: str
    msgs_per_s: float
    last_message_age_s: float | None
    messages: int
    resyncs: int = 0
    subscribed: bool = False
    """True once Bybit has acknowledged the subscription on the current socket."""
    endpoint: str = ""
    """The socket the topic streams on (``linear``, ``spot``, ..., ``private``)."""


@dataclass(frozen=True, slots=True)
class Health:
    """A snapshot of the client's connections, emitted about once a second and on every change.

    ``simulated`` is True when the data comes from the local simulator, so views can label it.
    """

    network: str
    simulated: bool
    state: ConnectionState
    connections: Mapping[str, ConnectionState]
    msgs_per_s: float
    last_message_age_s: float | None
    reconnects: int
    resyncs: int
    topics: Mapping[tuple[str, str], TopicHealth] = field(default_factory=dict)
    """Per observed topic, keyed by ``(endpoint, topic)``: the same name on linear and spot are two topics."""
    last_error: str | None = None
    malformed: int = 0
    """Frames that could not be decoded (each was logged and skipped; the stream went on)."""
    outages: int = 0
    """Times a connected socket was lost (each reconnect attempt is counted in ``reconnects``)."""
    down_for_s: float | None = None
    """How long the longest current outage has lasted (None while every socket is up)."""
    last_outage_s: float | None = None
    """The longest of the sockets' most recent finished outages, lost to back."""
    reconciliations: int = 0
    """Private state re-read from REST and merged after a reconnect of the private socket."""


class HealthMonitor:
    """Builds :class:`Health` snapshots from the pool and the router, and streams them.

    :meth:`snapshot` reads counters only (no side effects). The stream emits at once on subscribe,
    then every ``interval`` seconds while observed, and on every connection state change.
    :meth:`wait_subscribed` wakes on acknowledgements instead of polling.
    """

    def __init__(self, pool: ConnectionPool, router: TopicRouter, interval: float = 1.0) -> None:
        self._pool = pool
        self._router = router
        self.interval = interval
        self._fan = Fanout[Health]("health", self._start, self._stop, on_subscribe=self._greet,
                                   provenance=pool.origin)
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()  # set whenever a connection's acknowledged topics change
        self.observer_errors = 0
        self.last_error: str | None = None
        self.reconciliations = 0

    @property
    def stream(self) -> Stream[Health]:
        """The health stream."""
        return self._fan.observable

    def snapshot(self) -> Health:
        """The current :class:`Health` (rates over the last complete second)."""
        now = time.monotonic()
        topics: dict[tuple[str, str], TopicHealth] = {}
        total_rate = 0.0
        last: float | None = None
        for t in self._router.entries():
            conn = self._pool.get(t.endpoint)
            rate = t.rate(now)
            topics[(t.endpoint, t.name)] = TopicHealth(
                t.name, rate, None if t.last_at is None else now - t.last_at, t.messages, t.resyncs,
                conn is not None and t.name in conn.confirmed, t.endpoint,
            )
            total_rate += rate
            if t.last_at is not None and (last is None or t.last_at > last):
                last = t.last_at
        conns = self._pool.connections
        states: dict[str, ConnectionState] = {e: c.state for e, c in conns.items()}  # type: ignore[misc]
        errors = [c.stats.last_error for c in conns.values() if c.stats.last_error]
        return Health(
            network=self._pool.network_name,
            simulated=self._pool.simulated,
            state=_overall(self._pool.closed, states),
            connections=states,
            msgs_per_s=total_rate,
            last_message_age_s=None if last is None else now - last,
            reconnects=sum(c.stats.reconnects for c in conns.values()),
            resyncs=sum(t.resyncs for t in self._router.entries()),
            topics=topics,
            last_error=self.last_error or (errors[-1] if errors else None),
            malformed=sum(c.stats.malformed for c in conns.values()),
            outages=sum(c.stats.outages for c in conns.values()),
            down_for_s=max((now - c.stats.down_since for c in conns.values() if c.stats.down_since is not None),
                           default=None),
            last_outage_s=max((c.stats.last_outage_s for c in conns.values() if c.stats.last_outage_s is not None),
                              default=None),
            reconciliations=self.reconciliations,
        )

    def publish(self) -> None:
        """Emit a snapshot now if anybody watches (a state change, a resync)."""
        if self._fan.count and not self._pool.closed:
            self._fan.emit(self.snapshot())

    def subscriptions_changed(self, _conn: object = None) -> None:
        """A connection's acknowledged topics changed: wake :meth:`wait_subscribed`."""
        self._changed.set()

    def observer_error(self, name: str, exc: BaseException) -> None:
        """An observer of ``name`` raised; count it and keep the message for ``last_error``."""
        self.observer_errors += 1
        self.last_error = f"an observer of {name} raised {exc!r}"

    def reconciled(self) -> None:
        """Private state was reconciled after a reconnect; count it and tell watchers."""
        self.reconciliations += 1
        self.publish()

    def topic_error(self, name: str, exc: Exception) -> None:
        """The exchange refused ``name``."""
        self.last_error = str(exc)

    async def wait_subscribed(self, timeout: float) -> None:
        """Return once Bybit has acknowledged every observed topic; ``TimeoutError`` naming the rest."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        changed = self._changed
        while True:
            changed.clear()
            pending = [f"{t.name} ({t.endpoint})" for t in self._router.entries()
                       if t.observers and not self._confirmed(t)]
            if not pending:
                return
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"not acknowledged by Bybit within {timeout} s: {', '.join(pending)}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), left)

    async def wait_topic(self, endpoint: Endpoint, name: str, timeout: float) -> bool:
        """Wait until Bybit has acknowledged topic ``name`` on ``endpoint``'s current socket (wakes on
        acks); False after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._changed.clear()
            conn = self._pool.get(endpoint)
            if conn is not None and name in conn.confirmed:
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    def _confirmed(self, entry: TopicEntry) -> bool:
        conn = self._pool.get(entry.endpoint)
        return conn is not None and entry.name in conn.confirmed

    def close(self) -> None:
        """Complete the stream and stop the timer."""
        self._fan.complete()
        self._stop()

    def _greet(self, observer: abc.ObserverBase[Health]) -> None:
        with contextlib.suppress(Exception):
            observer.on_next(self.snapshot())

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def _stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self._fan.emit(self.snapshot())


def _overall(closed: bool, states: Mapping[str, ConnectionState]) -> ConnectionState:
    if closed:
        return "closed"
    if not states:
        return "idle"
    if all(s == "connected" for s in states.values()):
        return "connected"
    if any(s == "reconnecting" for s in states.values()):
        return "reconnecting"
    return "connecting"
