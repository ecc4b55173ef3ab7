"""What ties a :class:`~.bybit.Bybit` client's parts together without tying them to the client.

The sockets' callbacks reach the router and the health monitor through :class:`Parts`, never the
``Bybit`` object itself, so a client the user drops can be garbage-collected while its sockets are
still open. Every stream the client hands out holds the client (:class:`OwnedRouter`), so a client
lives as long as the user holds it or any of its streams. :func:`adopt` then makes sure a dropped
client does not leak: once it is collected its connections close (at once if nothing observes its
streams, else when the last observer leaves), with one log line saying so. Creating a client while
another with the same settings is still open in the process (re-running a notebook cell) logs one
warning too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ..protocol.endpoints import Endpoint
from ..transport import Connection
from .router import TopicRouter
from .stream import Stream

if TYPE_CHECKING:
    from .health import HealthMonitor
    from .pool import ConnectionPool
    from .private_state import StateStreams
    from .router import TopicEntry
    from .trade import TradeClient

log = logging.getLogger("rxbybit.client")

ORPHAN_CHECK_S: Final = 1.0
"""How often a collected client whose streams are still observed checks whether they are all gone."""

_live: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_warned: set[str] = set()


class OwnedRouter(TopicRouter):
    """A router whose streams hold their client (the router itself holds it only weakly)."""

    owner: weakref.ref[Any] | None = None

    def view(self, endpoint: Endpoint, name: str, kind: str) -> Stream[Any]:
        stream = super().view(endpoint, name, kind)
        stream.holds = None if self.owner is None else self.owner()
        return stream


class Parts:
    """A client's pool, router, monitor and trade client, and the callbacks its sockets call."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.router: TopicRouter | None = None
        self.monitor: HealthMonitor | None = None
        self.trade: TradeClient | None = None
        self.states: StateStreams | None = None
        self.closed = False

    def connection(self, endpoint: Endpoint) -> Connection:
        """The stream socket of ``endpoint``, wired to the router and the monitor."""
        router, monitor = self.router, self.monitor
        assert router is not None and monitor is not None, "Parts used before the client was built"
        return self.pool.connection(
            endpoint,
            on_event=lambda event: router.route(endpoint, event),
            on_topic_error=lambda name, exc: router.topic_error(endpoint, name, exc),
            on_state=self._state,
            on_subscriptions=monitor.subscriptions_changed,
        )

    def _state(self, conn: Connection) -> None:
        if self.states is not None and conn.endpoint == "private" and not self.closed:
            self.states.connection_state(conn.state, conn.stats.reconnects)  # reconcile after a reconnect
        if self.monitor is not None:
            self.monitor.publish()

    def observer_error(self, name: str, exc: BaseException) -> None:
        """An observer of ``name`` raised: counted on health."""
        if self.monitor is not None:
            self.monitor.observer_error(name, exc)

    def resync(self, entry: TopicEntry) -> None:
        """A book resynced: publish health."""
        if self.monitor is not None:
            self.monitor.publish()

    def topic_error(self, name: str, exc: Exception) -> None:
        """The exchange refused ``name``: kept for health."""
        if self.monitor is not None:
            self.monitor.topic_error(name, exc)

    @property
    def open_sockets(self) -> int:
        """Connections not closed."""
        return sum(1 for c in self.pool.connections.values() if c.state != "closed")

    def close_now(self) -> None:
        """Close every socket without awaiting (the client is gone)."""
        if self.closed:
            return
        self.closed = True
        if self.trade is not None:
            self.trade.close_now()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None and not loop.is_closed():
            task = loop.create_task(self.pool.close())  # also lets go of the embedded simulator
            _closing.add(task)
            task.add_done_callback(_closing.discard)
        else:
            for conn in self.pool.connections.values():
                conn.close_now()


_closing: set[asyncio.Task[None]] = set()


def adopt(client: object, parts: Parts, settings: tuple[str, str | None], describe: Callable[[], str]) -> None:
    """Register ``client``: warn once about open twins, and close ``parts`` when it is collected."""
    twins = [c for c in list(_live.values()) if getattr(c, "_settings", None) == settings
             and not getattr(c, "_closed", True)]
    if twins and settings[0] not in _warned:
        _warned.add(settings[0])
        log.warning("%d other Bybit client(s) with the same settings are still open in this process (a re-run "
                    "cell?): each keeps its own sockets. Close the one you replace (`await bybit.close()`, or "
                    "`async with rb.Bybit(...)`); a client you drop is closed once nothing observes its streams",
                    len(twins))
    _live[id(client)] = client
    if isinstance(parts.router, OwnedRouter):
        parts.router.owner = weakref.ref(client)
    weakref.finalize(client, _collected, parts, describe()).atexit = False  # the process ends: nothing leaks


def _collected(parts: Parts, what: str) -> None:
    if parts.closed or parts.pool.closed:
        return
    router = parts.router
    if router is not None and len(router) and _loop_running():
        log.warning("%s was dropped without close(): its sockets close when nothing observes its streams", what)
        task = asyncio.get_running_loop().create_task(_close_when_unobserved(parts))
        _closing.add(task)
        task.add_done_callback(_closing.discard)
        return
    if parts.open_sockets:
        log.warning("%s was dropped without close(): its %d socket(s) are closed now", what, parts.open_sockets)
    parts.close_now()


async def _close_when_unobserved(parts: Parts) -> None:
    router = parts.router
    while router is not None and len(router) and not parts.pool.closed:
        await asyncio.sleep(ORPHAN_CHECK_S)
    with contextlib.suppress(Exception):
        if router is not None:
            router.close()
        if parts.monitor is not None:
            parts.monitor.close()
        parts.close_now()


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
