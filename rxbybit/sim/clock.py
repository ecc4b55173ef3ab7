"""The exchange's clock: virtual time, and the one task that steps the market and pushes what is due.

Virtual time runs ``speed`` times faster than the wall clock (``speed=10``: ten times as many
pushes per second, timestamps run ten times faster). The clock steps every market each
:data:`STEP_MS` virtual milliseconds and then lets every due feed push.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Final, Protocol

from ..protocol.clock import now_ms as wall_ms
from .tasks import Background

log = logging.getLogger("rxbybit.sim")

STEP_MS: Final = 20
"""Virtual milliseconds between two market model steps."""


class VirtualTime:
    """Simulated exchange time: ``start_ms`` plus the virtual milliseconds elapsed since the start.

    Bybit's clock is the wall clock, and so is the simulator's at ``speed=1`` without a ``start_ms``:
    :meth:`now_ms` then reads the wall clock (never going back), so an order's ``createdTime`` is never
    earlier than its own request's ``X-BAPI-TIMESTAMP`` and time lost before the clock task starts is
    not lost. A fixed ``start_ms`` or another ``speed`` gives virtual time (tests, replays, load).
    """

    def __init__(self, speed: float = 1.0, start_ms: int | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self.speed = float(speed)
        self.follows_wall = start_ms is None and self.speed == 1.0
        """True when exchange time is the wall clock."""
        self.start_ms = start_ms if start_ms is not None else wall_ms()
        self.vt = 0.0
        """Virtual milliseconds since the start."""
        self._last = self.start_ms

    def now_ms(self) -> int:
        """Simulated exchange time in epoch milliseconds."""
        if self.follows_wall:
            self._last = max(self._last, wall_ms())
            return self._last
        return self.start_ms + int(self.vt)

    def advance(self, wall_seconds: float) -> None:
        """Let ``wall_seconds`` of real time pass (``speed`` times as much virtual time)."""
        if self.follows_wall:
            self.vt = max(self.vt + wall_seconds * 1000.0, float(self.now_ms() - self.start_ms))
            return
        self.vt += wall_seconds * 1000.0 * self.speed


class Steppable(Protocol):
    """A market the clock steps."""

    def step(self, t_ms: int) -> None:
        """Advance the model by one step at time ``t_ms``."""


class Clock:
    """Drives the simulation: each cycle steps the markets when a step is due, then pushes due feeds.

    ``after_step`` runs after every market step (fills of resting orders), ``push_due(vt, now_ms)``
    pushes every feed whose cadence point has come, and ``flush`` releases output held by an
    expired stall.
    """

    def __init__(self, vtime: VirtualTime, markets: Iterable[Steppable], *, after_step: Callable[[], None],
                 push_due: Callable[[float, int], None], flush: Callable[[], None]) -> None:
        self.time = vtime
        self.markets = tuple(markets)
        self.after_step = after_step
        self.push_due = push_due
        self.flush = flush
        self._next_step = 0.0
        self.task = Background("rxbybit-sim-clock", self._run)
        """The clock task (``start()``/``stop()``); nothing moves while it is stopped but :meth:`tick`."""

    def tick(self) -> None:
        """One clock cycle: maybe step the market, then push every feed that is due."""
        now = self.time.now_ms()
        vt = self.time.vt
        if vt >= self._next_step:
            self._next_step = (vt // STEP_MS + 1) * STEP_MS
            for m in self.markets:
                m.step(now)
            self.after_step()
        self.push_due(vt, now)
        self.flush()

    async def _run(self) -> None:
        period = max(0.010 / self.time.speed, 0.002)
        last = time.monotonic()
        while True:
            await asyncio.sleep(period)
            mono = time.monotonic()
            self.time.advance(mono - last)
            last = mono
            try:
                self.tick()
            except Exception:  # a bug must not freeze the market for everyone
                log.exception("simulator clock step failed")
