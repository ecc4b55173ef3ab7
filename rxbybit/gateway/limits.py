"""Per-connection limits and the token bucket that enforces the request rate (sans-I/O)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """What one gateway connection may do. Defaults suit a browser front end."""

    max_message_bytes: int = 16_384
    """Larger requests get a ``FRAME_TOO_LARGE`` error; the connection stays up."""
    hard_max_message_bytes: int = 1_048_576
    """Larger frames close the connection (code 1009): that is abuse, not a mistake."""
    max_subscriptions: int = 200
    """Subscriptions (topics, /symbols, /user/*) one connection may hold."""
    rate: float = 50.0
    """Requests per second, sustained."""
    burst: float = 100.0
    """Requests allowed at once before the rate applies."""
    max_rate_violations: int = 500
    """Requests refused for rate within ``violation_window`` seconds before the connection is closed."""
    violation_window: float = 10.0
    max_auth_failures: int = 5
    """Failed authorizations before the connection is closed (stops token guessing)."""
    abuse_close_timeout: float = 2.0
    """Seconds an abusive connection gets to finish the close handshake before it is cut."""
    max_buffered_bytes: int = 4_194_304
    """Unsent bytes a slow client may accumulate; beyond that events are dropped (and counted)."""


class TokenBucket:
    """Allows ``rate`` events per second with bursts of ``burst``; time is passed in (seconds)."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one; False means the event is over the limit."""
        elapsed = max(0.0, now - self._at)
        self._at = now
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
