"""A helper for operators that keep per-subscription state and may reject an item."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import reactivex as rx
from reactivex import abc

T = TypeVar("T")
R = TypeVar("R")

_SKIP: Any = object()


def stateful(make: Callable[[], Callable[[T], R | None]]) -> Callable[[rx.Observable[T]], rx.Observable[R]]:
    """Build an operator from ``make()``, called once per subscription, returning ``step(item)``.

    ``step`` returns the value to emit, or None to emit nothing. If it raises, the error goes to
    this subscriber's ``on_error`` (the source and its other subscribers are untouched).
    """

    def operator(source: rx.Observable[T]) -> rx.Observable[R]:
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

        return keep_label(source, rx.create(subscribe))

    return operator


def keep_label(source: rx.Observable[Any], derived: rx.Observable[R]) -> rx.Observable[R]:
    """Carry the source's ``simulated`` flag over to a derived stream, so frames built from it
    stay labelled SIMULATED."""
    flag = getattr(source, "simulated", None)
    if flag is not None:
        setattr(derived, "simulated", flag)  # noqa: B010
    return derived
