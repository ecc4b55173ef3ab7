"""Helpers for the ops operators: derived streams that keep their source's provenance, and
operators that keep per-subscription state and may reject an item."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import reactivex as rx
from reactivex import abc

from ..client.stream import Stream, origin_of

T = TypeVar("T")
R = TypeVar("R")

Subscribe = Callable[[abc.ObserverBase[R], abc.SchedulerBase | None], abc.DisposableBase]


def derived(source: rx.Observable[Any], subscribe: Subscribe[R]) -> Stream[R]:
    """A stream made by ``subscribe`` with the provenance of ``source`` (LIVE for a plain observable),
    so frames built from it keep the SIMULATED or REPLAY label."""
    return Stream(subscribe, origin_of(source))


def stateful(make: Callable[[], Callable[[T], R | None]]) -> Callable[[rx.Observable[T]], Stream[R]]:
    """Build an operator from ``make()``, called once per subscription, returning ``step(item)``.

    ``step`` returns the value to emit, or None to emit nothing. If it raises, the error goes to
    this subscriber's ``on_error`` (the source and its other subscribers are untouched).
    """

    def operator(source: rx.Observable[T]) -> Stream[R]:
        def subscribe(observer: abc.ObserverBase[R], scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
            step = make()

            def on_next(item: T) -> None:
                try:
                    out = step(item)
                except Exception as exc:
                    observer.on_error(exc)
                    return
                if out is not None:
                    observer.on_next(out)

            return source.subscribe(on_next, observer.on_error, observer.on_completed, scheduler=scheduler)

        return derived(source, subscribe)

    return operator
