"""Reconnect policy: exponential backoff with full jitter, as an injectable generator of delays."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

BackoffPolicy = Callable[[], Iterator[float]]
"""A factory of delay sequences: called once per outage; each ``next()`` is the wait in seconds
before the next attempt. When the iterator ends, reconnecting stops (the default never ends)."""


def exponential_backoff(
    initial: float = 0.25,
    factor: float = 2.0,
    maximum: float = 30.0,
    max_attempts: int | None = None,
    jitter: float = 1.0,
    rng: random.Random | None = None,
) -> BackoffPolicy:
    """Delays ``initial * factor**n`` capped at ``maximum``, each shrunk by up to ``jitter`` (0..1)
    at random so that many clients do not reconnect in step. Unlimited unless ``max_attempts``."""
    if initial < 0 or factor < 1 or maximum < 0 or not 0 <= jitter <= 1:
        raise ValueError("backoff needs initial >= 0, factor >= 1, maximum >= 0 and 0 <= jitter <= 1")
    rand = rng or random.Random()

    def delays() -> Iterator[float]:
        n = 0
        while max_attempts is None or n < max_attempts:
            base = min(maximum, initial * factor**n)
            yield base * (1 - jitter * rand.random())
            n += 1

    return delays
