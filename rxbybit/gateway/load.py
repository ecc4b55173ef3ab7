"""Is the gateway keeping up? Event-loop lag, and when to refuse new connections (sans-I/O).

Everything a gateway does runs on one event loop: fan-out, requests, handshakes. When it cannot
keep up, its loop runs behind, and a timer fires late by as much. The gateway runs a probe that
asks to wake every ``Limits.loop_lag_interval`` seconds and reports how late it woke
(:meth:`LoopLag.sample`). Once ``Limits.overload_samples`` samples in a row are over
``Limits.max_loop_lag``, and for ``Limits.overload_hold`` seconds after the last sample over it,
new websocket connections are refused at once with HTTP 503 (``Retry-After``) instead of waiting
in a handshake the loop has no time for; connections already open keep their service.

Only a *sustained* lag counts: a gateway that cannot keep up wakes its probe late every time,
while one stall (a notebook cell that holds the loop the gateway shares, a slow import) makes one
late sample and is not overload. When the samples before were already over the limit, a probe
that is late *right now* completes the run (:meth:`LoopLag.overloaded` is given when it was due),
so a handshake in the middle of an overload is refused without waiting for the probe to run.

Time is passed in (seconds, the event loop's clock).
"""

from __future__ import annotations


class LoopLag:
    """How far behind the event loop runs, and whether new connections should be refused."""

    __slots__ = ("_until", "hold", "last", "limit", "overloads", "peak", "run", "samples")

    def __init__(self, limit: float | None, hold: float, samples: int = 3) -> None:
        if limit is not None and limit <= 0:
            raise ValueError(f"max_loop_lag must be positive seconds (or None: never refuse), not {limit!r}")
        if hold < 0:
            raise ValueError(f"overload_hold must be zero or more seconds, not {hold!r}")
        if samples < 1:
            raise ValueError(f"overload_samples must be at least 1, not {samples!r}")
        self.limit = limit
        self.hold = hold
        self.samples = samples
        """Samples in a row over the limit that make an overload."""
        self.run = 0
        """Samples in a row over the limit so far."""
        self.last = 0.0
        """The latest lag sampled, in seconds."""
        self.peak = 0.0
        """The largest lag sampled since :meth:`reset`."""
        self.overloads = 0
        """Samples over the limit since :meth:`reset`."""
        self._until = float("-inf")

    def sample(self, lag: float, now: float) -> None:
        """The probe woke ``lag`` seconds later than it asked, at ``now``."""
        lag = max(0.0, lag)
        self.last = lag
        self.peak = max(self.peak, lag)
        if self.limit is not None and lag > self.limit:
            self.overloads += 1
            self.run += 1
            if self.run >= self.samples:
                self._until = now + self.hold
        else:
            self.run = 0

    def overloaded(self, now: float, due: float | None = None) -> bool:
        """True while new connections should be refused: ``samples`` samples in a row were over the
        limit, the last less than ``hold`` seconds ago; or the samples before were over it and the
        probe, due at ``due``, is late by more than the limit now (it completes the run)."""
        if self.limit is None:
            return False
        if due is not None and now - due > self.limit and self.run + 1 >= self.samples:
            return True
        return now < self._until

    def behind(self, now: float, due: float | None = None) -> float:
        """The lag to report: the latest sample, or how late the probe is now if that is more."""
        late = 0.0 if due is None else now - due
        return max(self.last, late)

    def reset(self) -> None:
        """Forget the peak and the count (a benchmark phase starts); the refusal window is kept."""
        self.peak = 0.0
        self.overloads = 0
