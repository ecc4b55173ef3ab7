"""Ref-counted, isolated fan-out: one exchange subscription however many observers.

A :class:`Fanout` turns a push source into an observable. The first observer starts the source,
the last one to leave stops it. An exception raised by one observer's ``on_next`` is reported
and that observer alone is detached: the connection and the other observers carry on.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from reactivex import abc
from reactivex.disposable import Disposable

from .stream import Provenance, ProvenanceSource, Stream

log = logging.getLogger("rxbybit.client")

T = TypeVar("T")


class Fanout(Generic[T]):
    """Delivers values to its observers, starting and stopping its source by reference count."""

    def __init__(
        self,
        name: str,
        on_first: Callable[[], None],
        on_last: Callable[[], None],
        on_observer_error: Callable[[str, BaseException], None] | None = None,
        on_subscribe: Callable[[abc.ObserverBase[T]], None] | None = None,
        provenance: ProvenanceSource = Provenance.LIVE,
    ) -> None:
        self.name = name
        self._on_first = on_first
        self._on_last = on_last
        self._on_observer_error = on_observer_error
        self._on_subscribe = on_subscribe
        self._observers: tuple[abc.ObserverBase[T], ...] = ()  # replaced, never mutated: emit needs no copy
        self._done = False
        self.observable: Stream[T] = Stream(self._subscribe, provenance)
        """An observable of this fan-out's values."""

    @property
    def count(self) -> int:
        """How many observers are attached."""
        return len(self._observers)

    def _subscribe(
        self, observer: abc.ObserverBase[T], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        return self.attach(observer)

    def attach(self, observer: abc.ObserverBase[T]) -> abc.DisposableBase:
        """Add ``observer`` (starting the source if it is the first); dispose the result to detach."""
        if self._done:
            observer.on_completed()
            return Disposable()
        self._observers = (*self._observers, observer)
        if len(self._observers) == 1:
            try:
                self._on_first()
            except BaseException:
                self._observers = tuple(o for o in self._observers if o is not observer)
                raise
        if self._on_subscribe is not None:
            self._on_subscribe(observer)

        def dispose() -> None:
            self._detach(observer)

        return Disposable(dispose)

    def _detach(self, observer: abc.ObserverBase[T]) -> None:
        if observer in self._observers:
            self._observers = tuple(o for o in self._observers if o is not observer)
            if not self._observers and not self._done:
                self._on_last()

    def emit(self, value: T) -> None:
        """Send ``value`` to every observer; an observer that raises is reported and detached."""
        for observer in self._observers:
            try:
                observer.on_next(value)
            except Exception as exc:
                self._report(observer, exc)

    def error(self, exc: Exception) -> None:
        """End every observer with ``exc``; later subscribers start afresh."""
        observers, self._observers = self._observers, ()
        for observer in observers:
            try:
                observer.on_error(exc)
            except Exception as inner:
                log.error("observer of %s raised in on_error: %r", self.name, inner)

    def complete(self) -> None:
        """Complete every observer and refuse new ones (used on close)."""
        self._done = True
        observers, self._observers = self._observers, ()
        for observer in observers:
            try:
                observer.on_completed()
            except Exception as inner:
                log.error("observer of %s raised in on_completed: %r", self.name, inner)

    def _report(self, observer: abc.ObserverBase[Any], exc: Exception) -> None:
        log.error("an observer of %s raised %r in on_next; it was detached (and sent on_error); the stream goes on",
                  self.name, exc, exc_info=exc)
        if self._on_observer_error is not None:
            self._on_observer_error(self.name, exc)
        self._detach(observer)
        with contextlib.suppress(Exception):  # let the observer's own error handler know
            observer.on_error(exc)
