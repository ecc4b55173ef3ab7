"""The gateway's side of the client: shared upstream streams fanned out to gateway connections.

One public :class:`~rxbybit.Bybit` client serves every connection; each user with Bybit keys gets
their own private client, shared by that user's connections and closed when none needs it. A
topic costs one exchange subscription however many connections watch it: the hub holds one
observer of ``Bybit.topic(...)`` per topic (that keeps the exchange subscription) and forwards the
raw Bybit frames from ``Bybit.frames(endpoint)``, wrapped once in an event envelope and shared by
every subscriber. A user's client, and so their private pushes, profile and notifications, is
reachable only through a connection authorized as that user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reactivex import abc

from ..client import Bybit
from ..errors import RxBybitError, SubscriptionError
from ..protocol import topics as T
from ..protocol._json import JSONDecodeError, loads
from ..protocol.ticker import Ticker
from .auth import Identity
from .envelopes import ErrorCode, event, event_frame, text_frame
from .profile import (
    notification,
    notification_from_execution,
    notification_from_order,
    profile_from_wallet,
)
from .requests import NOTIFICATIONS, PROFILE, SYMBOLS

log = logging.getLogger("rxbybit.gateway")

ClientFactory = Callable[[str, Identity | None], Bybit]
"""Makes the upstream client for a base URL (``identity`` None: the shared public client)."""


class Sink(Protocol):
    """Where a subscription's frames go: a gateway connection."""

    def deliver(self, data: bytes, wire: bytes | None = None) -> None:
        """Send one ready ``event`` frame (``wire``: the same, already framed for the socket)."""

    def fail(self, path: str, code: ErrorCode, message: str) -> None:
        """The subscription ``path`` ended with an error (it is gone once this is called)."""


class Subscription:
    """Handle of one sink's subscription; :meth:`dispose` ends it (idempotent)."""

    def __init__(self, dispose: Callable[[], None]) -> None:
        self._dispose: Callable[[], None] | None = dispose

    def dispose(self) -> None:
        """Stop delivering to this sink."""
        fn, self._dispose = self._dispose, None
        if fn is not None:
            fn()


def external_path(endpoint: str, topic: str) -> str:
    """The subscription path of a Bybit topic: ``/external/{direction}/{topic}``."""
    return f"/external/{endpoint}/{topic}"


def extract_topic(frame: str | bytes) -> tuple[str | None, bool]:
    """``(topic, valid_json)`` of a raw Bybit frame; topic None for control frames."""
    try:
        msg = loads(frame)
    except (JSONDecodeError, TypeError):
        return None, False
    topic = msg.get("topic") if isinstance(msg, dict) else None
    return (topic if isinstance(topic, str) else None), True


@dataclass
class _Topic:
    path: str
    sinks: dict[int, Sink] = field(default_factory=dict)
    holder: abc.DisposableBase | None = None


class _Router:
    """Raw-frame fan-out of one upstream client: topic -> sinks, one upstream observer per topic."""

    def __init__(self, client: Bybit) -> None:
        self.client = client
        self._topics: dict[tuple[T.Endpoint, str], _Topic] = {}
        self._taps: dict[T.Endpoint, abc.DisposableBase] = {}
        self.malformed = 0

    @property
    def topic_count(self) -> int:
        return len(self._topics)

    def add(self, endpoint: T.Endpoint, name: str, sink: Sink) -> Subscription:
        key = (endpoint, name)
        entry = self._topics.get(key)
        if entry is None:
            entry = self._topics[key] = _Topic(external_path(endpoint, name))

            def on_frame(raw: str | bytes) -> None:
                self._on_frame(endpoint, raw)

            def on_error(exc: Exception) -> None:
                self._on_error(key, exc)

            def on_completed() -> None:
                self._on_error(key, None)

            try:
                if endpoint not in self._taps:
                    self._taps[endpoint] = self.client.frames(endpoint).subscribe(on_frame)
                entry.holder = self.client.topic(name, endpoint).subscribe(
                    on_next=_ignore, on_error=on_error, on_completed=on_completed)
            except Exception:
                self._drop(key)
                raise
        token = id(sink)
        entry.sinks[token] = sink

        def dispose() -> None:
            current = self._topics.get(key)
            if current is entry and entry.sinks.pop(token, None) is not None and not entry.sinks:
                self._drop(key)

        return Subscription(dispose)

    def _drop(self, key: tuple[T.Endpoint, str]) -> None:
        entry = self._topics.pop(key, None)
        if entry is not None and entry.holder is not None:
            entry.holder.dispose()
        endpoint = key[0]
        if not any(ep == endpoint for ep, _ in self._topics):
            tap = self._taps.pop(endpoint, None)
            if tap is not None:
                tap.dispose()

    def _on_frame(self, endpoint: T.Endpoint, raw: str | bytes) -> None:
        topic, valid = extract_topic(raw)
        if topic is None:
            if not valid:
                self.malformed += 1
            return
        entry = self._topics.get((endpoint, topic))
        if entry is None:
            return
        data = event_frame(entry.path, raw)
        _deliver_all(entry.sinks, entry.path, data, text_frame(data))

    def _on_error(self, key: tuple[T.Endpoint, str], exc: Exception | None) -> None:
        entry = self._topics.get(key)
        if entry is None:
            return
        self._drop(key)
        if isinstance(exc, SubscriptionError):
            code, message = ErrorCode.UPSTREAM_REJECTED, f"Bybit rejected {key[1]!r}: {exc.message}"
        elif exc is None:
            code, message = ErrorCode.UPSTREAM_ERROR, f"the upstream stream of {key[1]!r} ended"
        else:
            code, message = ErrorCode.UPSTREAM_ERROR, f"the upstream stream of {key[1]!r} failed: {exc}"
        for sink in tuple(entry.sinks.values()):
            with contextlib.suppress(Exception):
                sink.fail(entry.path, code, message)

    def close(self) -> None:
        for key in list(self._topics):
            self._drop(key)


def _deliver_all(sinks: dict[int, Sink], path: str, frame: Any, wire: Any) -> None:
    """Hand one encoded event to every sink; one broken connection never stops the others."""
    for sink in tuple(sinks.values()):
        try:
            sink.deliver(frame, wire)
        except Exception:
            log.exception("delivering %s failed for one connection", path)


def _ignore(_: object) -> None:
    return None


class _Group:
    """Sinks of one derived stream (profile, notifications, symbols) and the upstream it needs."""

    def __init__(self, path: str, start: Callable[[], list[abc.DisposableBase]]) -> None:
        self.path = path
        self.sinks: dict[int, Sink] = {}
        self._start = start
        self._held: list[abc.DisposableBase] = []

    def add(self, sink: Sink, greeting: bytes | None = None) -> Subscription:
        first = not self.sinks
        token = id(sink)
        self.sinks[token] = sink
        if first:
            try:
                self._held = self._start()
            except Exception:
                self.sinks.pop(token, None)
                raise
        if greeting is not None:
            sink.deliver(greeting)

        def dispose() -> None:
            if self.sinks.pop(token, None) is not None and not self.sinks:
                self.stop()

        return Subscription(dispose)

    def emit(self, data: Any) -> None:
        if not self.sinks:
            return
        frame = event(self.path, data)
        _deliver_all(self.sinks, self.path, frame, text_frame(frame))

    def fail(self, code: ErrorCode, message: str) -> None:
        sinks, self.sinks = self.sinks, {}
        self.stop()
        for sink in sinks.values():
            with contextlib.suppress(Exception):
                sink.fail(self.path, code, message)

    def stop(self) -> None:
        held, self._held = self._held, []
        for d in held:
            d.dispose()


class _User:
    """One user's upstream: their private client (if they have keys), profile and notifications."""

    def __init__(self, identity: Identity, make_client: Callable[[], Bybit] | None) -> None:
        self.identity = identity
        self._make_client = make_client
        self.client: Bybit | None = None
        self.router: _Router | None = None
        self.sessions = 0
        self.last_profile: dict[str, Any] | None = None
        self.profile = _Group(PROFILE, self._start_profile)
        self.notifications = _Group(NOTIFICATIONS, self._start_notifications)

    def ensure_client(self) -> Bybit:
        if self.client is None:
            if self._make_client is None:
                raise _NoCredentials(self.identity.user)
            self.client = self._make_client()
            self.router = _Router(self.client)
        return self.client

    def _start_profile(self) -> list[abc.DisposableBase]:
        client = self.ensure_client()
        return [client.wallet().subscribe(on_next=self._on_wallet, on_error=self._on_profile_error)]

    def _on_wallet(self, item: Mapping[str, Any]) -> None:
        self.last_profile = profile_from_wallet(item)
        self.profile.emit(self.last_profile)

    def _on_profile_error(self, exc: Exception) -> None:
        self.profile.fail(ErrorCode.UPSTREAM_ERROR, f"the wallet stream failed: {_safe(exc)}")

    def _start_notifications(self) -> list[abc.DisposableBase]:
        if self._make_client is None:
            return []  # no Bybit keys: gateway notices only
        client = self.ensure_client()
        return [
            client.orders().subscribe(on_next=self._on_order, on_error=self._on_private_error),
            client.executions().subscribe(on_next=self._on_execution, on_error=self._on_private_error),
        ]

    def _on_order(self, item: Mapping[str, Any]) -> None:
        note = notification_from_order(item)
        if note is not None:
            self.notifications.emit(note)

    def _on_execution(self, item: Mapping[str, Any]) -> None:
        self.notifications.emit(notification_from_execution(item))

    def _on_private_error(self, exc: Exception) -> None:
        self.notifications.fail(ErrorCode.UPSTREAM_ERROR, f"the private order stream failed: {_safe(exc)}")

    def idle(self) -> bool:
        return (self.sessions == 0 and not self.profile.sinks and not self.notifications.sinks
                and (self.router is None or self.router.topic_count == 0))

    async def close(self) -> None:
        self.profile.stop()
        self.notifications.stop()
        if self.router is not None:
            self.router.close()
        if self.client is not None:
            await self.client.close()


class _NoCredentials(RxBybitError):
    def __init__(self, user: str) -> None:
        super().__init__(f"user {user!r} has no Bybit API keys on this gateway; "
                         "add them with 'rxbybit gateway users add NAME --api-key K --api-secret S'")


def _safe(exc: BaseException) -> str:
    """An exception's text for a client (our errors never carry secrets)."""
    return str(exc) or type(exc).__name__


SymbolList = Sequence[tuple[T.Category, str]]


class Hub:
    """Upstream streams of a gateway: one public client, one private client per user with keys."""

    def __init__(self, base_url: str | None, *, symbols: SymbolList = (), client_factory: ClientFactory | None = None,
                 public: Bybit | None = None) -> None:
        if base_url is None and public is None:
            raise ValueError("give the upstream base URL (or a public client)")
        self._factory = client_factory or _default_factory
        self.base_url = base_url
        self.public = public if public is not None else self._factory(str(base_url), None)
        self._public_router = _Router(self.public)
        self._users: dict[str, _User] = {}
        self.symbol_list: tuple[tuple[T.Category, str], ...] = tuple(symbols)
        self._tickers: dict[tuple[str, str], dict[str, Any]] = {}
        self._symbols = _Group(SYMBOLS, self._start_symbols)
        self._closing: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ users

    def attach(self, identity: Identity) -> None:
        """A connection was authorized as ``identity`` (counted until :meth:`detach`)."""
        user = self._users.get(identity.user)
        if user is None:
            make = None
            if identity.credentials is not None:
                creds = identity.credentials
                base = str(self.base_url or self.public.url)
                factory = self._factory

                def make() -> Bybit:
                    return factory(base, Identity(identity.user, creds))

            user = self._users[identity.user] = _User(identity, make)
        user.sessions += 1

    def detach(self, identity: Identity) -> None:
        """That connection is gone; a user with no connection left loses their private client."""
        user = self._users.get(identity.user)
        if user is None:
            return
        user.sessions -= 1
        if user.idle():
            del self._users[identity.user]
            task = asyncio.get_running_loop().create_task(user.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def users_online(self) -> tuple[str, ...]:
        """Names of users with at least one authorized connection."""
        return tuple(name for name, u in self._users.items() if u.sessions > 0)

    def notify(self, user: str, title: str, message: str, level: str = "info",
               data: Mapping[str, Any] | None = None) -> bool:
        """Send a notification to ``user``'s ``/user/notifications`` subscribers; False if none."""
        u = self._users.get(user)
        if u is None or not u.notifications.sinks:
            return False
        u.notifications.emit(notification("gateway", title, message, level, data))
        return True

    # ------------------------------------------------------------------ subscriptions

    def external(self, endpoint: T.Endpoint, topic: str, identity: Identity | None, sink: Sink) -> Subscription:
        """Pass-through of a Bybit topic (private topics on ``identity``'s own client)."""
        if endpoint == "private":
            user = self._user(identity)
            user.ensure_client()
            assert user.router is not None
            return user.router.add(endpoint, topic, sink)
        return self._public_router.add(endpoint, topic, sink)

    def profile(self, identity: Identity, sink: Sink) -> Subscription:
        """Total-balance events of ``identity`` (starts with the last known one, if any)."""
        user = self._user(identity)
        user.ensure_client()
        greeting = event(PROFILE, user.last_profile) if user.last_profile is not None else None
        return user.profile.add(sink, greeting)

    def notifications(self, identity: Identity, sink: Sink) -> Subscription:
        """Order, fill and gateway notifications of ``identity``."""
        return self._user(identity).notifications.add(sink)

    def symbols(self, sink: Sink) -> Subscription:
        """The instrument list, then live ticker events of every listed symbol."""
        return self._symbols.add(sink, event(SYMBOLS, {"event": "list", "symbols": self._symbol_rows()}))

    def _symbol_rows(self) -> list[dict[str, Any]]:
        rows = []
        for category, symbol in self.symbol_list:
            row: dict[str, Any] = {"category": category, "symbol": symbol}
            row.update(self._tickers.get((category, symbol), {}))
            rows.append(row)
        return rows

    def _start_symbols(self) -> list[abc.DisposableBase]:
        held = []
        for category, symbol in self.symbol_list:
            held.append(self._watch_symbol(category, symbol))
        return held

    def _watch_symbol(self, category: T.Category, symbol: str) -> abc.DisposableBase:
        def on_next(ticker: Ticker) -> None:
            self._on_ticker(category, ticker)

        def on_error(exc: Exception) -> None:
            self._on_symbol_error(category, symbol, exc)

        return self.public.ticker(symbol, category).subscribe(on_next=on_next, on_error=on_error)

    def _on_ticker(self, category: str, ticker: Ticker) -> None:
        fields = {k: ticker.get(k) for k in ("lastPrice", "price24hPcnt", "highPrice24h", "lowPrice24h",
                                             "volume24h", "bid1Price", "ask1Price", "markPrice")
                  if ticker.get(k) is not None}
        self._tickers[(category, ticker.symbol)] = fields
        self._symbols.emit({"event": "ticker", "category": category, "symbol": ticker.symbol, "ts": ticker.ts,
                            **fields})

    def _on_symbol_error(self, category: str, symbol: str, exc: Exception) -> None:
        log.warning("symbol stream %s %s failed: %s", category, symbol, exc)
        self._symbols.emit({"event": "error", "category": category, "symbol": symbol, "message": _safe(exc)})

    def _user(self, identity: Identity | None) -> _User:
        if identity is None or identity.user not in self._users:
            raise PermissionError("this connection is not authorized")
        return self._users[identity.user]

    # ------------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        """Close every user's client and the public client."""
        self._symbols.stop()
        self._public_router.close()
        users, self._users = list(self._users.values()), {}
        await asyncio.gather(*(u.close() for u in users), return_exceptions=True)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        await self.public.close()


def _default_factory(base_url: str, identity: Identity | None) -> Bybit:
    if identity is None or identity.credentials is None:
        return Bybit(base_url)
    creds = identity.credentials
    return Bybit(base_url, api_key=creds.api_key, api_secret=creds.api_secret)


NoCredentials = _NoCredentials
