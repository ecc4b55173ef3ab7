"""Is the gateway keeping up? Event-loop lag, and when to refuse new connections (sans-I/O).

Everything a gateway does runs on one event loop: fan-out, requests, handshakes. When it cannot
keep up, its loop runs behind, and a timer fires late by as much. The gateway runs a probe that
asks to wake every ``Limits.loop_lag_interval`` seconds and reports how late it woke
(:meth:`LoopLag.sample`). While the lag is over ``Limits.max_loop_lag``, and for
``Limits.overload_hold`` seconds after the last such sample, new websocket connections are
refused at once with HTTP 503 (``Retry-After``) instead of waiting in a handshake the loop has no
time for; connections already open keep their service. A probe that is late *right now* by more
than the limit counts too (:meth:`LoopLag.overloaded` is given when it was due), so the first
handshake after a stall is refused without waiting for the probe to run.

Time is passed in (seconds, the event loop's clock).
"""

from __future__ import annotations


class LoopLag:
    """How far behind the event loop runs, and whether new connections should be refused."""

    __slots__ = ("_until", "hold", "last", "limit", "overloads", "peak")

    def __init__(self, limit: float | None, hold: float) -> None:
        if limit is not None and limit <= 0:
            raise ValueError(f"max_loop_lag must be positive seconds (or None: never refuse), not {limit!r}")
        if hold < 0:
            raise ValueError(f"overload_hold must be zero or more seconds, not {hold!r}")
        self.limit = limit
        self.hold = hold
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
            self._until = now + self.hold

    def overloaded(self, now: float, due: float | None = None) -> bool:
        """True while new connections should be refused: the lag was over the limit less than
        ``hold`` seconds ago, or the probe, due at ``due``, is late by more than the limit now."""
        if self.limit is None:
            return False
        if due is not None and now - due > self.limit:
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
