"""The topic router: decoded events to the observers of each topic, one exchange subscription per topic.

A topic has an entry while somebody observes it, in one or more *views* (``book``, ``trades``,
``ticker``, ``klines``, ``liquidations``, ``items`` for private pushes, ``raw`` events). The first
observer of any view subscribes the topic on its connection; when the last one leaves, or the
exchange rejects the topic, the entry is forgotten, so memory follows what is observed, not every
name ever asked for. Books and tickers are rebuilt here from snapshots and deltas; a book with a
``u`` gap or crossed sides is never emitted: the router asks the connection for a fresh snapshot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from reactivex import abc
from reactivex.disposable import Disposable

from ..protocol.book import Applied, OrderBook
from ..protocol.endpoints import Endpoint
from ..protocol.events import (
    BookUpdate,
    Event,
    Klines,
    Liquidations,
    PrivateUpdate,
    TickerUpdate,
    Trades,
)
from ..protocol.ticker import TickerState
from ..transport import Connection
from .stream import ProvenanceSource, Stream
from .streams import Fanout

log = logging.getLogger("rxbybit.client")
_DELTA = Applied.DELTA

RATE_WINDOW_S = 1.0
"""Message rates are counted over windows of this many seconds."""

Key = tuple[Endpoint, str]


@dataclass
class TopicEntry:
    """Client-side state of one observed exchange topic: its views, book/ticker state and counters."""

    endpoint: Endpoint
    name: str
    views: dict[str, Fanout[Any]] = field(default_factory=dict)
    book: OrderBook | None = None
    ticker: TickerState | None = None
    messages: int = 0
    last_at: float | None = None
    resyncs: int = 0
    window_start: float = 0.0
    window_count: int = 0
    last_rate: float | None = None

    @property
    def observers(self) -> int:
        """Observers over every view."""
        return sum(f.count for f in self.views.values())

    def rate(self, now: float) -> float:
        """Messages per second over the last complete window (decays once messages stop)."""
        if not self.window_start:
            return 0.0
        age = now - self.window_start
        if self.last_rate is None or age >= 2 * RATE_WINDOW_S:  # first window, or quiet since: the open one
            return (self.messages - self.window_count) / max(age, 0.1)
        return self.last_rate


class TopicRouter:
    """Observed topics, their views, and the routing of each event to them."""

    def __init__(
        self,
        connect: Callable[[Endpoint], Connection],
        provenance: ProvenanceSource,
        *,
        on_observer_error: Callable[[str, BaseException], None],
        on_resync: Callable[[TopicEntry], None],
        on_topic_error: Callable[[str, Exception], None],
    ) -> None:
        self._connect = connect
        self._provenance = provenance
        self._on_observer_error = on_observer_error
        self._on_resync = on_resync
        self._on_topic_error = on_topic_error
        self._topics: dict[Key, TopicEntry] = {}
        self._closed = False

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return len(self._topics)

    def entries(self) -> Iterator[TopicEntry]:
        """The observed topics."""
        return iter(list(self._topics.values()))

    # ------------------------------------------------------------------ views

    def view(self, endpoint: Endpoint, name: str, kind: str) -> Stream[Any]:
        """A stream of ``kind`` values of topic ``name`` on ``endpoint``; subscribing it observes the topic."""
        if self._closed:
            raise RuntimeError("this Bybit client is closed; create a new one")
        key = (endpoint, name)

        def subscribe(observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
                      ) -> abc.DisposableBase:
            if self._closed:
                observer.on_completed()
                return Disposable()
            fan = self._fan(key, kind)
            try:
                return fan.attach(observer)
            except BaseException:  # e.g. no running event loop: leave nothing behind
                entry = self._topics.get(key)
                if entry is not None and entry.observers == 0:
                    self._forget(entry)
                raise

        return Stream(subscribe, self._provenance)

    def _fan(self, key: Key, kind: str) -> Fanout[Any]:
        entry = self._topics.get(key)
        if entry is None:
            entry = self._topics[key] = TopicEntry(*key)
        fan = entry.views.get(kind)
        if fan is None:
            fan = entry.views[kind] = Fanout(
                f"{key[1]}[{kind}]",
                on_first=lambda: self._acquire(entry),
                on_last=lambda: self._release(entry, kind),
                on_observer_error=self._on_observer_error,
                provenance=self._provenance,
            )
        return fan

    def _acquire(self, entry: TopicEntry) -> None:
        if entry.observers == 1:  # the first observer of any view of this (fresh) topic entry
            self._connect(entry.endpoint).subscribe([entry.name])

    def _release(self, entry: TopicEntry, kind: str) -> None:
        fan = entry.views.get(kind)
        if fan is not None and fan.count == 0:
            del entry.views[kind]
        if entry.observers == 0:
            self._forget(entry)
            self._connect(entry.endpoint).unsubscribe([entry.name])

    def _forget(self, entry: TopicEntry) -> None:
        key = (entry.endpoint, entry.name)
        if self._topics.get(key) is entry:
            del self._topics[key]
        entry.book = None
        entry.ticker = None

    def topic_error(self, endpoint: Endpoint, name: str, exc: Exception) -> None:
        """The exchange rejected ``name`` (or auth failed): end its observers and forget it."""
        self._on_topic_error(name, exc)
        entry = self._topics.get((endpoint, name))
        if entry is None:
            return
        self._forget(entry)
        views, entry.views = entry.views, {}
        for fan in views.values():
            fan.error(exc)

    def close(self) -> None:
        """Complete every observer; later subscribers complete at once."""
        self._closed = True
        entries, self._topics = list(self._topics.values()), {}
        for entry in entries:
            for fan in list(entry.views.values()):
                fan.complete()

    # ------------------------------------------------------------------ routing

    def route(self, endpoint: Endpoint, event: Event) -> None:
        """Deliver one decoded event to the views of its topic (the hot path)."""
        name = getattr(event, "topic", None)
        if name is None:
            return
        topic = self._topics.get((endpoint, name))
        if topic is None:
            return
        topic.messages += 1
        now = topic.last_at = time.monotonic()
        if now - topic.window_start >= RATE_WINDOW_S:
            if topic.window_start:
                topic.last_rate = (topic.messages - topic.window_count) / (now - topic.window_start)
                topic.window_count = topic.messages
            else:  # the first message opens the first window and counts in it
                topic.window_count = topic.messages - 1
            topic.window_start = now
        views = topic.views
        if type(event) is BookUpdate:  # the hot path: one view per book update
            book_fan = views.get("book")
            if book_fan is not None and topic.book is not None:
                result = topic.book.apply(event)
                if result is _DELTA:
                    book_fan.emit(topic.book.view())
                else:
                    self._on_book_result(topic, event, result)
                if len(views) > 1:
                    _emit(views.get("raw"), event)
                return
        _emit(views.get("raw"), event)
        if isinstance(event, BookUpdate):
            self._on_book(topic, event)
        elif isinstance(event, Trades):
            _emit_each(views.get("trades"), event.trades)
        elif isinstance(event, TickerUpdate):
            fan = views.get("ticker")
            if fan is not None:
                if topic.ticker is None:
                    topic.ticker = TickerState()
                fan.emit(topic.ticker.apply(event))
        elif isinstance(event, Klines):
            _emit_each(views.get("klines"), event.candles)
        elif isinstance(event, Liquidations):
            _emit_each(views.get("liquidations"), event.liquidations)
        elif isinstance(event, PrivateUpdate):
            _emit_each(views.get("items"), event.items)

    def _on_book(self, topic: TopicEntry, event: BookUpdate) -> None:
        if "book" not in topic.views:
            return
        if topic.book is None:
            topic.book = OrderBook(event.symbol, event.depth or None)
        self._on_book_result(topic, event, topic.book.apply(event))

    def _on_book_result(self, topic: TopicEntry, event: BookUpdate, result: Applied) -> None:
        fan = topic.views.get("book")
        if fan is None or topic.book is None:
            return
        if result.changed:
            if result is Applied.RESTART:
                topic.resyncs += 1
            fan.emit(topic.book.view())
        elif result in (Applied.GAP, Applied.CROSSED):
            topic.resyncs += 1
            log.warning("%s: %s at u=%s; resubscribing for a fresh snapshot", topic.name, result.value, event.u)
            self._connect(topic.endpoint).resubscribe(topic.name)
            self._on_resync(topic)


def _emit(fan: Fanout[Any] | None, value: Any) -> None:
    if fan is not None:
        fan.emit(value)


def _emit_each(fan: Fanout[Any] | None, items: tuple[Any, ...]) -> None:
    if fan is not None:
        for item in items:
            fan.emit(item)
