"""Per-connection and per-address limits, and the token bucket that enforces rates (sans-I/O)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """What gateway connections may do. Defaults suit a browser front end on the open internet.

    Every resource a connection can make the gateway hold has a limit here: its requests (size,
    rate), its subscriptions (count, new-topic rate), what it may leave unread (bytes, time), and
    how many connections and authorization attempts one address gets.
    """

    max_message_bytes: int = 16_384
    """Larger requests get a ``FRAME_TOO_LARGE`` error; the connection stays up."""
    hard_max_message_bytes: int = 1_048_576
    """Larger frames close the connection (code 1009): that is abuse, not a mistake."""
    max_nesting: int = 32
    """Deepest nesting of arrays and objects a request may have (deeper: ``BAD_REQUEST``)."""
    max_subscriptions: int = 200
    """Subscriptions (topics, /symbols, /user/*) one connection may hold."""
    rate: float = 50.0
    """Requests per second, sustained."""
    burst: float = 100.0
    """Requests allowed at once before the rate applies."""
    topic_rate: float = 10.0
    """Topics per second a connection may add that it did not hold before (sustained)."""
    topic_burst: float = 200.0
    """New topics allowed at once (a page subscribing its whole set) before ``topic_rate`` applies."""
    max_rate_violations: int = 500
    """Requests refused for rate within ``violation_window`` seconds before the connection is closed."""
    violation_window: float = 10.0
    max_auth_failures: int = 5
    """Failed authorizations on one connection before it is closed."""
    auth_rate: float = 1.0
    """Authorization attempts per second one client address may make, over all its connections."""
    auth_burst: float = 10.0
    """Authorization attempts one address may make at once before ``auth_rate`` applies."""
    abuse_close_timeout: float = 2.0
    """Seconds an abusive connection gets to finish the close handshake before it is cut."""
    max_buffered_bytes: int = 4_194_304
    """Unsent bytes a slow client may accumulate; beyond that events are dropped (and counted)."""
    max_unsent_bytes: int = 8_388_608
    """Unsent bytes (events, acks and errors) at which a client that does not read is disconnected."""
    slow_client_timeout: float = 30.0
    """Seconds a client may stay over ``max_buffered_bytes`` before it is disconnected."""
    max_connections: int = 10_000
    """Open websocket connections in total; more are refused with HTTP 503."""
    max_connections_per_address: int = 64
    """Open websocket connections from one client address; more are refused with HTTP 429."""
    max_loop_lag: float | None = None
    """Seconds the event loop may keep running behind (a timer firing that late) before new
    connections are refused with HTTP 503: the gateway is saturated (``gateway/load.py``). None (the
    default for a ``Gateway`` embedded in your program or notebook, whose loop runs your code too):
    never refuse for load. ``rxbybit gateway serve`` owns its loop and sets
    :data:`SERVED_MAX_LOOP_LAG` (``--max-loop-lag``)."""
    overload_hold: float = 5.0
    """Seconds new connections keep being refused after the last lag over ``max_loop_lag``."""
    overload_samples: int = 3
    """Lag samples in a row over ``max_loop_lag`` that make an overload: one stall (a notebook cell
    holding the event loop an embedded gateway shares) is one late sample, not an overload."""
    loop_lag_interval: float = 0.1
    """Seconds between two samples of the event loop's lag."""


SERVED_MAX_LOOP_LAG = 0.5
"""``max_loop_lag`` of a gateway served by ``rxbybit gateway serve`` (its own process and loop)."""


class TokenBucket:
    """Allows ``rate`` events per second with bursts of ``burst``; time is passed in (seconds)."""

    __slots__ = ("_at", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at = now

    def take(self, now: float, n: int = 1) -> bool:
        """Spend ``n`` tokens if there are that many (all or none); False means over the limit."""
        elapsed = max(0.0, now - self._at)
        self._at = now
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    def full(self, now: float) -> bool:
        """True when the bucket has refilled completely (an idle key may be forgotten)."""
        return self._tokens + max(0.0, now - self._at) * self.rate >= self.burst


class AddressBuckets:
    """One :class:`TokenBucket` per client address, at most ``max_addresses`` kept (bounded memory).

    When full, the least recently used address whose bucket has refilled is forgotten; if none has,
    the oldest one is (an attacker with that many addresses gets a fresh bucket, never more).
    """

    def __init__(self, rate: float, burst: float, max_addresses: int = 65_536) -> None:
        self.rate = rate
        self.burst = burst
        self.max_addresses = max_addresses
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, address: str, now: float) -> bool:
        """Spend one of ``address``'s tokens; False when it is over the limit."""
        bucket = self._buckets.get(address)
        if bucket is None:
            if len(self._buckets) >= self.max_addresses:
                self._evict(now)
            bucket = self._buckets[address] = TokenBucket(self.rate, self.burst, now)
        else:
            self._buckets.move_to_end(address)
        return bucket.take(now)

    def _evict(self, now: float) -> None:
        for address, bucket in self._buckets.items():
            if bucket.full(now):
                del self._buckets[address]
                return
        self._buckets.popitem(last=False)
