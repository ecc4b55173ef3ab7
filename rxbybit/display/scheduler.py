"""One global render scheduler: every live view refreshes through it at a capped rate.

Streams may deliver thousands of messages a second; a display only needs the newest state a few
times a second. Views therefore ingest every message into their state, then call
:meth:`RenderJob.mark_dirty`. The scheduler renders dirty views later, the newest state winning
(``sample`` semantics: a burst is never dropped at its end, a busy stream never starves the view).

Two limits apply: each job renders at most ``max_fps`` times a second, and all jobs together at most
``max_updates_per_s`` (a token bucket holding ``burst`` tokens, 1 by default, so renders are spread
evenly and no one-second span ever holds more than ``max_updates_per_s + burst``). Timers run on a reactivex
scheduler: by default an ``AsyncIOScheduler`` on the running event loop, armed only while something
is dirty. With no running loop (plain scripts, tests) nothing is armed: call :meth:`flush` or
:meth:`tick`. Tests can pass a ``reactivex.testing.TestScheduler`` to drive virtual time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from reactivex import abc
from reactivex.scheduler.eventloop import AsyncIOScheduler

log = logging.getLogger(__name__)


class RenderJob:
    """One registered view: call :meth:`mark_dirty` after a state change; the scheduler renders it."""

    __slots__ = ("_render", "_scheduler", "active", "dirty", "last", "max_fps", "min_interval", "name", "renders")

    def __init__(self, scheduler: RenderScheduler, render: Callable[[], None], max_fps: float, name: str) -> None:
        if max_fps <= 0:
            raise ValueError(f"max_fps must be positive, got {max_fps}")
        self._scheduler = scheduler
        self._render = render
        self.max_fps = max_fps
        self.min_interval = 1.0 / max_fps
        self.name = name
        self.dirty = False
        self.active = True
        self.last = float("-inf")
        self.renders = 0

    def mark_dirty(self) -> None:
        """Say the state changed. Cheap: the first call after a render arms the timer, others do nothing."""
        if not self.dirty and self.active:
            self.dirty = True
            self._scheduler._wake()

    def render_now(self) -> None:
        """Render immediately, outside the rate limits (used by :meth:`RenderScheduler.flush`)."""
        self.dirty = False
        self.renders += 1
        try:
            self._render()
        except Exception:  # a broken view must not stop the others
            log.exception("render of %s failed", self.name)

    def dispose(self) -> None:
        """Stop rendering this job and forget it."""
        self.active = False
        self.dirty = False
        self._scheduler._jobs.discard(self)

    def resume(self) -> None:
        """Register again after :meth:`dispose` (a view was shown again)."""
        if not self.active:
            self.active = True
            self._scheduler._jobs.add(self)


class RenderScheduler:
    """Renders dirty jobs at most ``max_fps`` each and ``max_updates_per_s`` in total."""

    def __init__(
        self,
        max_updates_per_s: float = 30.0,
        *,
        scheduler: abc.SchedulerBase | None = None,
        burst: float = 1.0,
        min_delay_s: float = 0.005,
    ) -> None:
        if max_updates_per_s <= 0:
            raise ValueError(f"max_updates_per_s must be positive, got {max_updates_per_s}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1 render, got {burst}")
        self.max_updates_per_s = max_updates_per_s
        self.burst = float(burst)
        self._tokens = self.burst
        self._refilled: float | None = None
        self._scheduler = scheduler
        self._loop_sched: tuple[asyncio.AbstractEventLoop, AsyncIOScheduler] | None = None
        self._armed: abc.DisposableBase | None = None
        self._min_delay = min_delay_s
        self._jobs: set[RenderJob] = set()
        self.renders = 0
        """Total renders done (the number of updates sent towards the frontend)."""

    # ----------------------------------------------------------------------------- public

    def register(self, render: Callable[[], None], *, max_fps: float = 4.0, name: str = "view") -> RenderJob:
        """Add a view; ``render()`` is called (on the event loop) with the newest state when due."""
        job = RenderJob(self, render, max_fps, name)
        self._jobs.add(job)
        return job

    @property
    def jobs(self) -> int:
        """How many jobs are registered."""
        return len(self._jobs)

    def flush(self) -> int:
        """Render every dirty job now, ignoring the rate limits. Returns how many rendered."""
        n = 0
        now = self._now()
        for job in sorted(self._dirty(), key=lambda j: j.last):
            job.last = now
            job.render_now()
            n += 1
        self.renders += n
        return n

    def tick(self) -> int:
        """One rate-limited pass at the current time. Returns how many jobs rendered."""
        now = self._now()
        self._refill(now)
        due = [j for j in self._dirty() if now - j.last >= j.min_interval - 1e-9]
        due.sort(key=lambda j: j.last)  # the longest-waiting view goes first
        n = 0
        for job in due:
            if self._tokens < 1.0:
                break
            self._tokens -= 1.0
            job.last = now
            job.render_now()
            n += 1
        self.renders += n
        return n

    def next_delay(self) -> float | None:
        """Seconds until some dirty job may render (None when nothing is dirty)."""
        dirty = list(self._dirty())
        if not dirty:
            return None
        now = self._now()
        self._refill(now)
        wait_job = min(j.last + j.min_interval for j in dirty) - now
        wait_token = 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self.max_updates_per_s
        return max(wait_job, wait_token, self._min_delay)

    # ----------------------------------------------------------------------------- internals

    def _dirty(self) -> list[RenderJob]:
        return [j for j in self._jobs if j.dirty]

    def _timer_scheduler(self) -> abc.SchedulerBase | None:
        if self._scheduler is not None:
            return self._scheduler
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None  # no loop in this thread: the caller flushes by hand
        if self._loop_sched is None or self._loop_sched[0] is not loop:
            self._loop_sched = (loop, AsyncIOScheduler(loop))
        return self._loop_sched[1]

    def _now(self) -> float:
        sched = self._timer_scheduler()
        if sched is None:
            return _wall()
        return sched.now.timestamp()

    def _refill(self, now: float) -> None:
        if self._refilled is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.max_updates_per_s)
        self._refilled = now

    def _wake(self) -> None:
        if self._armed is not None:
            return
        sched = self._timer_scheduler()
        if sched is None:
            return
        delay = self.next_delay()
        if delay is None:
            return
        self._armed = sched.schedule_relative(delay, self._on_timer)

    def _on_timer(self, _scheduler: abc.SchedulerBase, _state: Any = None) -> None:
        self._armed = None
        self.tick()
        self._wake()


def _wall() -> float:
    return datetime.now().timestamp()


_default = RenderScheduler()


def get_render_scheduler() -> RenderScheduler:
    """The process-wide scheduler every view uses unless given another."""
    return _default


def set_render_scheduler(scheduler: RenderScheduler) -> RenderScheduler:
    """Replace the global scheduler (returns the previous one)."""
    global _default
    old, _default = _default, scheduler
    return old
