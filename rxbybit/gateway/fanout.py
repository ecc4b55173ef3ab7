"""Fan-out of upstream streams to gateway connections: one upstream observer, many sinks.

A :class:`Router` forwards the raw Bybit frames of one client's topics, each wrapped once in an
``event`` envelope and shared by every subscriber; a :class:`Group` does the same for a derived
stream (profile, notifications, symbols). Both hold their upstream only while a sink needs it:
a topic is forgotten when its last sink leaves and when the exchange rejects it, so what a router
holds is bounded by what connections hold. A router also watches its client's health and sends a
``status`` frame on every subscription of a direction when that exchange socket drops and when
it is back.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from reactivex import abc

from ..client import Bybit
from ..client.health import Health
from ..errors import SubscriptionError
from ..protocol import topics as T
from ..protocol.json_codec import JSONDecodeError, loads
from ..transport.ws_internals import text_frame
from .envelopes import ErrorCode, event, event_frame, status

log = logging.getLogger("rxbybit.gateway")


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


def deliver_all(sinks: dict[int, Sink], path: str, frame: bytes) -> None:
    """Hand one encoded event to every sink; one broken connection never stops the others."""
    wire = text_frame(frame)
    for sink in tuple(sinks.values()):
        try:
            sink.deliver(frame, wire)
        except Exception:
            log.exception("delivering %s failed for one connection", path)


def fail_all(sinks: dict[int, Sink], path: str, code: ErrorCode, message: str) -> None:
    """Tell every sink that ``path`` ended (a sink that fails to hear it is skipped)."""
    for sink in tuple(sinks.values()):
        with contextlib.suppress(Exception):
            sink.fail(path, code, message)


@dataclass
class _Topic:
    path: str
    sinks: dict[int, Sink] = field(default_factory=dict)
    holder: abc.DisposableBase | None = None


class Router:
    """Raw-frame fan-out of one upstream client: topic -> sinks, one upstream observer per topic."""

    def __init__(self, client: Bybit, on_error: Callable[[Exception], None] | None = None) -> None:
        self.client = client
        self._topics: dict[tuple[T.Endpoint, str], _Topic] = {}
        self._taps: dict[T.Endpoint, abc.DisposableBase] = {}
        self._on_upstream_error = on_error
        self._health: abc.DisposableBase | None = None
        self._up: set[str] = set()
        self._down: set[str] = set()
        self.malformed = 0

    @property
    def topic_count(self) -> int:
        """Topics with at least one sink."""
        return len(self._topics)

    def add(self, endpoint: T.Endpoint, name: str, sink: Sink) -> Subscription:
        """Deliver topic ``name`` of ``endpoint`` to ``sink`` (subscribing upstream for the first sink)."""
        key = (endpoint, name)
        entry = self._topics.get(key)
        if entry is None:
            entry = self._topics[key] = _Topic(external_path(endpoint, name))
            try:
                self._hold(key, entry)
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

    def _hold(self, key: tuple[T.Endpoint, str], entry: _Topic) -> None:
        endpoint, name = key

        def on_frame(raw: str | bytes) -> None:
            self._on_frame(endpoint, raw)

        def on_error(exc: Exception) -> None:
            self._on_error(key, exc)

        def on_completed() -> None:
            self._on_error(key, None)

        if endpoint not in self._taps:
            self._taps[endpoint] = self.client.frames(endpoint).subscribe(on_frame)
        if self._health is None:
            self._health = self.client.health.subscribe(on_next=self._on_health, on_error=_ignore)
        entry.holder = self.client.topic(name, endpoint).subscribe(
            on_next=_ignore, on_error=on_error, on_completed=on_completed)

    def _drop(self, key: tuple[T.Endpoint, str]) -> None:
        entry = self._topics.pop(key, None)
        if entry is not None and entry.holder is not None:
            entry.holder.dispose()
        endpoint = key[0]
        if not any(ep == endpoint for ep, _ in self._topics):
            tap = self._taps.pop(endpoint, None)
            if tap is not None:
                tap.dispose()
            self._up.discard(endpoint)
            self._down.discard(endpoint)
        if not self._taps and self._health is not None:
            health, self._health = self._health, None
            health.dispose()

    def _on_health(self, health: Health) -> None:
        """Tell the subscribers of a direction when its exchange socket drops, and when it is back."""
        for endpoint in tuple(self._taps):
            state = health.connections.get(endpoint)
            if state is None:
                continue
            if state == "connected":
                self._up.add(endpoint)
                if endpoint in self._down:
                    self._down.discard(endpoint)
                    self._status(endpoint, {"upstream": "up"})
            elif endpoint in self._up:
                self._up.discard(endpoint)
                self._down.add(endpoint)
                data: dict[str, Any] = {"upstream": "down", "state": state}
                if health.last_error:
                    data["reason"] = health.last_error
                self._status(endpoint, data)

    def _status(self, endpoint: T.Endpoint, data: dict[str, Any]) -> None:
        for (ep, _), entry in tuple(self._topics.items()):
            if ep == endpoint:
                frame = status(entry.path, data)
                for sink in tuple(entry.sinks.values()):
                    try:
                        sink.deliver(frame)
                    except Exception:
                        log.exception("a status frame for %s failed for one connection", entry.path)

    def _on_frame(self, endpoint: T.Endpoint, raw: str | bytes) -> None:
        topic, valid = extract_topic(raw)
        if topic is None:
            if not valid:
                self.malformed += 1
            return
        entry = self._topics.get((endpoint, topic))
        if entry is not None:
            deliver_all(entry.sinks, entry.path, event_frame(entry.path, raw))

    def _on_error(self, key: tuple[T.Endpoint, str], exc: Exception | None) -> None:
        entry = self._topics.get(key)
        if entry is None:
            return
        self._drop(key)
        if exc is not None and self._on_upstream_error is not None:
            self._on_upstream_error(exc)
        if isinstance(exc, SubscriptionError):
            code, message = ErrorCode.UPSTREAM_REJECTED, f"Bybit rejected {key[1]!r}: {exc.message}"
        elif exc is None:
            code, message = ErrorCode.UPSTREAM_ERROR, f"the upstream stream of {key[1]!r} ended"
        else:
            code, message = ErrorCode.UPSTREAM_ERROR, f"the upstream stream of {key[1]!r} failed: {exc}"
        fail_all(entry.sinks, entry.path, code, message)

    def close(self) -> None:
        """Drop every topic and its upstream observer."""
        for key in list(self._topics):
            self._drop(key)
        if self._health is not None:
            health, self._health = self._health, None
            health.dispose()


def _ignore(_: object) -> None:
    return None


class Group:
    """Sinks of one derived stream (profile, notifications, symbols) and the upstream it needs."""

    def __init__(self, path: str, start: Callable[[], list[abc.DisposableBase]]) -> None:
        self.path = path
        self.sinks: dict[int, Sink] = {}
        self._start = start
        self._held: list[abc.DisposableBase] = []

    def add(self, sink: Sink, greeting: bytes | None = None) -> Subscription:
        """Deliver this stream to ``sink``, first ``greeting`` if given (starting upstream for the first sink)."""
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
        """Send ``data`` as an event to every sink."""
        if self.sinks:
            deliver_all(self.sinks, self.path, event(self.path, data))

    def fail(self, code: ErrorCode, message: str) -> None:
        """End the stream for every sink with an error."""
        sinks, self.sinks = self.sinks, {}
        self.stop()
        fail_all(sinks, self.path, code, message)

    def stop(self) -> None:
        """Release the upstream (sinks are kept)."""
        held, self._held = self._held, []
        for d in held:
            d.dispose()
