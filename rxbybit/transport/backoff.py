"""Reconnect policy: exponential backoff with full jitter, as an injectable generator of delays.

The policy only says how long to wait between the attempts of one outage. When an outage starts
anew is :class:`~.connection.Connection`'s call: after a session that stayed healthy for
:data:`HEALTHY_SESSION_S` (whether it ended cleanly, by a dropped socket or a missed pong) the
next outage starts from the first, short delay again.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Final

BackoffPolicy = Callable[[], Iterator[float]]
"""A factory of delay sequences: called once per outage; each ``next()`` is the wait in seconds
before the next attempt. When the iterator ends, reconnecting stops (the default never ends)."""

HEALTHY_SESSION_S: Final = 2.0
"""A session that was connected (and authenticated) this long counts as healthy: however it ends,
the next outage starts with the first delay of a fresh policy sequence."""

DEFAULT_INITIAL_S: Final = 0.25
DEFAULT_MAXIMUM_S: Final = 10.0
"""The default policy waits at most 0.25, 0.5, 1, 2, 4, 8, then 10 s (each shrunk by jitter):
a short outage heals within a second, a long one costs at most 10 s after the exchange is back."""


def exponential_backoff(
    initial: float = DEFAULT_INITIAL_S,
    factor: float = 2.0,
    maximum: float = DEFAULT_MAXIMUM_S,
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
