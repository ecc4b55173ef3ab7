"""Gateway replicas sharing one set of Bybit connections through Redis (``rxbybit gateway --bus URL``).

Every replica serves its own clients; one of them, the *leader*, also holds the upstream public
subscriptions and publishes their frames on Redis. See ``docs/scaling.md`` for the picture.

- **Leadership**: a Redis lock (``{ns}:leader``, redis-py's :class:`~redis.asyncio.lock.Lock`) with a
  TTL (``lock_ttl``, 3 s) that the leader renews every ``lock_ttl / 3``. Each new leader takes a
  fencing epoch (``INCR {ns}:epoch``, never below the wall clock in ms, so it rises even after Redis
  lost its data) and stamps it on every message; replicas drop messages of an older epoch, so a
  leader that stalled and lost its lock can never interleave with the new one.
  A leader that cannot renew for ``0.8 * lock_ttl`` steps down by itself.
- **Interest**: each replica keeps the topics its clients watch in a Redis set
  (``{ns}:interest:{replica}``, rewritten every ``lock_ttl / 3`` and expiring ``3 * lock_ttl``
  after that) and announces changes on ``{ns}:ctl``. The leader subscribes upstream to the union of all sets and
  unsubscribes what no replica wants any more, including topics of replicas that died.
- **Frames**: Redis pub/sub, one channel per topic (``{ns}:t:{endpoint}:{topic}``). Pub/sub, not
  Streams: market frames are only worth something live, so nothing should be stored, trimmed or
  acknowledged; pub/sub pushes each frame to the subscribed replicas at once with no polling and
  no memory on the server. What pub/sub loses (a replica disconnected or too slow, a leader
  change) a replica detects for books by ``u`` continuity and the epoch, and it then holds the
  book's deltas back until a fresh snapshot, which it asks the leader for.
- **Books**: the leader keeps each book's levels (as text, exactly as Bybit sent them) and answers
  a ``want`` for a book it already holds with a snapshot built from them. A client that joins a
  book late, or any client after a fail-over or a gap, receives a snapshot before any delta.
- **Private streams never touch the bus**: they stay on the replica that holds the user's
  session, on that user's own client (:class:`~rxbybit.gateway.account.Account`). No key, token or
  private frame is ever published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from reactivex import abc
from redis.asyncio.client import PubSub
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from ..client import Bybit
from ..errors import SubscriptionError
from ..protocol import topics as T
from ..protocol.json_codec import JSONDecodeError, dumps, loads
from .envelopes import ErrorCode, event_frame
from .fanout import Router, Sink, Subscription, deliver_all, external_path, extract_topic, fail_all

log = logging.getLogger("rxbybit.gateway.bus")

Key = tuple[T.Endpoint, str]

PUBLISH_QUEUE_LIMIT = 100_000
"""Frames waiting for Redis on the leader; beyond this the oldest are dropped (books then resync)."""


def _is_book(topic: str) -> bool:
    return topic.startswith("orderbook.")


@dataclass
class _Local:
    """One topic on this replica: its sinks, and for books the continuity check."""

    path: str
    sinks: dict[int, Sink] = field(default_factory=dict)
    pending: set[int] = field(default_factory=set)
    """Book sinks that wait for a snapshot before they get any delta."""
    book: bool = False
    synced: bool = False
    u: int = 0
    asked: float = 0.0


@dataclass
class _Held:
    """One upstream subscription held by the leader, and for books the levels as text."""

    holder: abc.DisposableBase | None = None
    bids: dict[str, str] = field(default_factory=dict)
    asks: dict[str, str] = field(default_factory=dict)
    last: dict[str, Any] | None = None
    """The last book frame (without levels): topic, ts, u, seq, cts."""


class BusRouter(Router):
    """A :class:`~rxbybit.gateway.fanout.Router` whose frames come from Redis; one per replica.

    The hub hands it every public topic a client subscribes; the leader among the replicas holds
    the upstream subscriptions on ``upstream`` (this replica's public client, used only while it
    leads).
    """

    def __init__(self, upstream: Bybit, url: str, *, namespace: str = "rxbybit", lock_ttl: float = 3.0,
                 replica_id: str | None = None) -> None:
        super().__init__(upstream)
        if lock_ttl <= 0:
            raise ValueError(f"lock_ttl must be > 0 seconds, got {lock_ttl!r}")
        self.url = url
        self.ns = namespace
        self.lock_ttl = lock_ttl
        self.replica_id = replica_id or uuid.uuid4().hex[:12]
        self.ctl_channel = f"{namespace}:ctl"
        self.interest_key = f"{namespace}:interest:{self.replica_id}"
        self._redis: aioredis.Redis | None = None
        self._pubsub: PubSub | None = None
        self._lock: Lock | None = None
        self._local: dict[Key, _Local] = {}
        self._ops: asyncio.Queue[Callable[[], Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._epoch_seen = 0
        # leader state
        self.epoch = 0
        """The fencing epoch of this replica's leadership (0: not leading)."""
        self._held: dict[Key, _Held] = {}
        self._rejected: dict[Key, str] = {}
        self._frame_taps: dict[T.Endpoint, abc.DisposableBase] = {}
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._snap_due: set[Key] = set()
        self._reconcile_due = asyncio.Event()
        self._renewed_at = 0.0
        self.dropped = 0
        """Frames the leader dropped because Redis did not keep up."""
        self.leaderships = 0
        self._stopped = False

    def __repr__(self) -> str:
        role = f"leader epoch {self.epoch}" if self.leading else "follower"
        return f"<BusRouter {self.replica_id} {role} topics={len(self._local)} held={len(self._held)}>"

    @property
    def leading(self) -> bool:
        """True while this replica holds the leader lock."""
        return self.epoch > 0

    @property
    def topic_count(self) -> int:
        """Topics with at least one sink on this replica."""
        return len(self._local)

    @property
    def upstream_topics(self) -> list[Key]:
        """The upstream subscriptions this replica holds (empty unless it leads)."""
        return sorted(self._held)

    def _channel(self, key: Key) -> str:
        return f"{self.ns}:t:{key[0]}:{key[1]}"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> BusRouter:
        """Connect to Redis and start the replica's loops (raises if Redis cannot be reached)."""
        self._redis = aioredis.from_url(self.url)
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            redis, self._redis = self._redis, None
            await redis.aclose()
            raise ConnectionError(f"cannot reach the gateway bus at {self.url}: {exc}") from exc
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self.ctl_channel)
        self._lock = self._redis.lock(f"{self.ns}:leader", timeout=self.lock_ttl, blocking=False,
                                      thread_local=False)
        for coro in (self._read_loop(), self._ops_loop(), self._lead_loop(), self._publish_loop(),
                     self._reconcile_loop()):
            self._tasks.append(asyncio.get_running_loop().create_task(coro))
        return self

    async def stop(self, *, release: bool = True) -> None:
        """Stop the loops and the upstream subscriptions; ``release=False`` leaves the lock and this
        replica's interest to expire, as a crashed process would."""
        if self._stopped:
            return
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:  # bounded: a loop that swallowed its cancellation still sees _stopped
            await asyncio.wait(self._tasks, timeout=5)
        self._step_down()
        if self._redis is not None:
            if release:
                with contextlib.suppress(RedisError, OSError, LockError):
                    if self._lock is not None and await self._lock.owned():
                        await self._lock.release()
                    await self._redis.delete(self.interest_key)
                    await self._redis.publish(self.ctl_channel, dumps({"op": "drop"}))
            if self._pubsub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            with contextlib.suppress(RedisError, OSError):
                await self._redis.aclose()
        for entry in self._local.values():
            fail_all(entry.sinks, entry.path, ErrorCode.UPSTREAM_ERROR, "the gateway is shutting down")
        self._local.clear()

    def close(self) -> None:
        """Called by the hub on close; the server stops the bus itself with :meth:`stop`."""
        self._local.clear()

    # ------------------------------------------------------------------ replica side (every replica)

    def add(self, endpoint: T.Endpoint, name: str, sink: Sink) -> Subscription:
        """Deliver topic ``name`` of ``endpoint`` to ``sink``; the first sink on this replica registers
        the interest on Redis; a book sink waits for a snapshot."""
        if self._stopped:
            raise RuntimeError("the gateway bus is stopped")
        key = (endpoint, name)
        entry = self._local.get(key)
        first = entry is None
        if entry is None:
            entry = self._local[key] = _Local(external_path(endpoint, name), book=_is_book(name))
        token = id(sink)
        entry.sinks[token] = sink
        if first:
            self._ops.put_nowait(lambda: self._want(key))
        elif entry.book:
            entry.pending.add(token)
            self._ask_snapshot(key, entry)
        if first and entry.book:
            entry.pending.add(token)

        def dispose() -> None:
            current = self._local.get(key)
            if current is entry and entry.sinks.pop(token, None) is not None:
                entry.pending.discard(token)
                if not entry.sinks:
                    del self._local[key]
                    self._ops.put_nowait(lambda: self._unwant(key))

        return Subscription(dispose)

    def _ask_snapshot(self, key: Key, entry: _Local) -> None:
        now = time.monotonic()
        if now - entry.asked >= 0.5:  # many clients joining at once: one request
            entry.asked = now
            self._ops.put_nowait(lambda: self._announce("want", key))

    async def _want(self, key: Key) -> None:
        assert self._redis is not None and self._pubsub is not None
        if key not in self._local:
            return
        await self._pubsub.subscribe(self._channel(key))
        await self._redis.sadd(self.interest_key, f"{key[0]} {key[1]}")
        await self._redis.pexpire(self.interest_key, int(self.lock_ttl * 3000))
        entry = self._local.get(key)
        if entry is not None:
            entry.asked = time.monotonic()
        await self._announce("want", key)

    async def _unwant(self, key: Key) -> None:
        assert self._redis is not None and self._pubsub is not None
        if key in self._local:  # watched again meanwhile
            return
        await self._pubsub.unsubscribe(self._channel(key))
        await self._redis.srem(self.interest_key, f"{key[0]} {key[1]}")
        await self._announce("drop", key)

    async def _announce(self, op: str, key: Key) -> None:
        assert self._redis is not None
        await self._redis.publish(self.ctl_channel, dumps({"op": op, "endpoint": key[0], "topic": key[1]}))

    async def _ops_loop(self) -> None:
        """Redis commands of this replica, one at a time and in order (want before drop)."""
        while not self._stopped:
            op = await self._ops.get()
            try:
                await op()
            except (RedisError, OSError) as exc:
                log.warning("gateway bus command failed: %s", exc)

    async def _read_loop(self) -> None:
        assert self._pubsub is not None
        while not self._stopped:
            try:
                msg = await self._pubsub.get_message(timeout=1.0)
            except (RedisError, OSError) as exc:
                log.warning("gateway bus connection lost: %s; resubscribing", exc)
                await self._resubscribe()
                continue
            if msg is None or msg.get("type") != "message":
                continue
            channel = msg["channel"].decode() if isinstance(msg["channel"], bytes) else str(msg["channel"])
            data = msg["data"]
            if channel == self.ctl_channel:
                self._on_control(data)
            else:
                self._on_message(channel, data)

    async def _resubscribe(self) -> None:
        """After a lost Redis connection: every book waits for a snapshot; subscribe again."""
        assert self._pubsub is not None
        for key, entry in self._local.items():
            if entry.book:
                entry.synced = False
                entry.pending.update(entry.sinks)
            self._ops.put_nowait(lambda key=key: self._want(key))  # type: ignore[misc]
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.subscribe(self.ctl_channel)
        await asyncio.sleep(0.2)  # reconnect pacing, not synchronisation

    def _on_message(self, channel: str, data: bytes) -> None:
        prefix = f"{self.ns}:t:"
        if not channel.startswith(prefix):
            return
        endpoint, _, topic = channel[len(prefix):].partition(":")
        key = (endpoint, topic)
        entry = self._local.get(key)  # type: ignore[arg-type]
        if entry is None:
            return
        kind, space = data[:1], data.find(b" ")
        try:
            epoch = int(data[1:space])
        except ValueError:
            return
        if epoch < self._epoch_seen:
            return  # a deposed leader: fenced off
        if epoch > self._epoch_seen:
            self._epoch_seen = epoch
            for e in self._local.values():  # a new leader: every book waits for its snapshot
                if e.book:
                    e.synced = False
                    e.pending.update(e.sinks)
        body = data[space + 1:]
        if kind == b"E":
            del self._local[key]  # type: ignore[arg-type]
            self._ops.put_nowait(lambda: self._unwant(key))  # type: ignore[arg-type]
            fail_all(entry.sinks, entry.path, ErrorCode.UPSTREAM_REJECTED, body.decode("utf-8", "replace"))
            return
        if entry.book:
            self._on_book(key, entry, body)  # type: ignore[arg-type]
        else:
            deliver_all(entry.sinks, entry.path, event_frame(entry.path, body))

    def _on_book(self, key: Key, entry: _Local, body: bytes) -> None:
        try:
            msg = loads(body)
            u = int(msg["data"]["u"])
            snapshot = msg.get("type") == "snapshot"
        except (JSONDecodeError, KeyError, TypeError, ValueError):
            return
        if snapshot:
            entry.synced, entry.u = True, u
            entry.pending.clear()
            deliver_all(entry.sinks, entry.path, event_frame(entry.path, body))
            return
        if not entry.synced or u <= entry.u:
            if not entry.synced:
                self._ask_snapshot(key, entry)
            return
        if u != entry.u + 1:  # a gap on the bus: hold every sink back until a snapshot
            entry.synced = False
            entry.pending.update(entry.sinks)
            self._ask_snapshot(key, entry)
            return
        entry.u = u
        if entry.pending:
            self._ask_snapshot(key, entry)  # again if the first ask was lost (at most every 0.5 s)
            ready = {t: s for t, s in entry.sinks.items() if t not in entry.pending}
            if ready:
                deliver_all(ready, entry.path, event_frame(entry.path, body))
        else:
            deliver_all(entry.sinks, entry.path, event_frame(entry.path, body))

    # ------------------------------------------------------------------ leader side

    async def _lead_loop(self) -> None:
        assert self._lock is not None and self._redis is not None
        every = self.lock_ttl / 3
        while not self._stopped:
            try:
                if not self.leading:
                    if await self._lock.acquire(blocking=False):
                        # never below the wall clock in ms: epochs keep rising even if Redis lost its data
                        epoch = max(int(await self._redis.incr(f"{self.ns}:epoch")), int(time.time() * 1000))
                        await self._redis.set(f"{self.ns}:epoch", epoch)
                        self._renewed_at = time.monotonic()
                        self._become_leader(epoch)
                else:
                    await self._lock.reacquire()
                    self._renewed_at = time.monotonic()
                await self._renew_interest()
            except LockError:
                log.warning("gateway bus: lost the leader lock; stepping down")
                self._step_down()
            except (RedisError, OSError) as exc:
                log.warning("gateway bus: %s", exc)
                if self.leading and time.monotonic() - self._renewed_at > 0.8 * self.lock_ttl:
                    self._step_down()
            if self.leading:
                self._reconcile_due.set()  # also catches replicas that died without a word
            await asyncio.sleep(every)  # the renewal period

    async def _renew_interest(self) -> None:
        """Re-assert this replica's interest (a restarted Redis has forgotten it) and its expiry."""
        assert self._redis is not None
        members = [f"{k[0]} {k[1]}" for k in self._local]
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.interest_key)
            if members:
                pipe.sadd(self.interest_key, *members)
                pipe.pexpire(self.interest_key, int(self.lock_ttl * 3000))
            await pipe.execute()

    def _become_leader(self, epoch: int) -> None:
        self.epoch = epoch
        self.leaderships += 1
        log.info("gateway bus: replica %s leads (epoch %d)", self.replica_id, epoch)
        self._reconcile_due.set()

    def _step_down(self) -> None:
        if not self.leading:
            return
        log.info("gateway bus: replica %s steps down (epoch %d)", self.replica_id, self.epoch)
        self.epoch = 0
        for held in self._held.values():
            if held.holder is not None:
                held.holder.dispose()
        self._held.clear()
        for tap in self._frame_taps.values():
            tap.dispose()
        self._frame_taps.clear()
        self._snap_due.clear()
        while not self._outbox.empty():
            self._outbox.get_nowait()

    def _on_control(self, data: bytes) -> None:
        if not self.leading:
            return
        try:
            msg = loads(data)
        except JSONDecodeError:
            return
        if not isinstance(msg, dict):
            return
        if msg.get("op") == "want" and (msg.get("endpoint"), msg.get("topic")) in self._held:
            key: Key = (msg["endpoint"], msg["topic"])
            if _is_book(key[1]):
                self._snap_due.add(key)
                self._reconcile_due.set()
            return
        self._reconcile_due.set()

    async def _reconcile_loop(self) -> None:
        while not self._stopped:
            await self._reconcile_due.wait()
            self._reconcile_due.clear()
            if not self.leading:
                continue
            try:
                await self._reconcile()
            except (RedisError, OSError) as exc:
                log.warning("gateway bus: reconcile failed: %s", exc)
            for key in list(self._snap_due):
                self._snap_due.discard(key)
                self._publish_snapshot(key)

    async def _wanted(self) -> set[Key]:
        assert self._redis is not None
        keys = [k async for k in self._redis.scan_iter(match=f"{self.ns}:interest:*", count=500)]
        members: set[bytes | str] = set(await self._redis.sunion(keys)) if keys else set()
        out: set[Key] = set()
        for m in members:
            endpoint, _, topic = (m.decode() if isinstance(m, bytes) else m).partition(" ")
            out.add((endpoint, topic))  # type: ignore[arg-type]
        return out

    async def _reconcile(self) -> None:
        wanted = await self._wanted()
        if not self.leading:
            return
        for key in list(self._rejected):
            if key not in wanted:
                del self._rejected[key]
        for key in sorted(wanted - set(self._held) - set(self._rejected)):
            self._hold_upstream(key)
        for key in set(self._held) - wanted:
            held = self._held.pop(key)
            if held.holder is not None:
                held.holder.dispose()
        for endpoint in list(self._frame_taps):
            if not any(ep == endpoint for ep, _ in self._held):
                self._frame_taps.pop(endpoint).dispose()

    def _hold_upstream(self, key: Key) -> None:
        endpoint, name = key
        try:
            T.parse(name, endpoint)
        except ValueError as exc:
            self._reject(key, str(exc))
            return
        if endpoint not in self._frame_taps:
            def on_frame(raw: str | bytes, endpoint: T.Endpoint = endpoint) -> None:
                self._on_upstream(endpoint, raw)

            self._frame_taps[endpoint] = self.client.frames(endpoint).subscribe(on_frame)
        held = self._held[key] = _Held()

        def on_error(exc: Exception) -> None:
            if self._held.get(key) is held:
                del self._held[key]
                message = exc.message if isinstance(exc, SubscriptionError) else str(exc)
                self._reject(key, f"Bybit rejected {name!r}: {message}" if isinstance(exc, SubscriptionError)
                             else f"the upstream stream of {name!r} failed: {message}")

        held.holder = self.client.topic(name, endpoint).subscribe(on_next=_ignore, on_error=on_error)

    def _reject(self, key: Key, message: str) -> None:
        self._rejected[key] = message
        self._enqueue(self._channel(key), b"E%d %s" % (self.epoch, message.encode()))

    def _on_upstream(self, endpoint: T.Endpoint, raw: str | bytes) -> None:
        if not self.leading:
            return
        topic, _ = extract_topic(raw)
        if topic is None:
            return
        key = (endpoint, topic)
        held = self._held.get(key)
        if held is None:
            return
        body = raw.encode() if isinstance(raw, str) else bytes(raw)
        if _is_book(topic):
            _apply_levels(held, body)
        self._enqueue(self._channel(key), b"F%d %s" % (self.epoch, body))

    def _publish_snapshot(self, key: Key) -> None:
        held = self._held.get(key)
        if held is None or held.last is None:
            return  # no snapshot yet: the exchange's own comes first
        last = held.last
        depth = int(key[1].split(".")[1]) if key[1].count(".") == 2 else 0
        bids = sorted(held.bids.items(), key=lambda kv: -float(kv[0]))
        asks = sorted(held.asks.items(), key=lambda kv: float(kv[0]))
        if depth:
            bids, asks = bids[:depth], asks[:depth]
        frame = {"topic": key[1], "type": "snapshot", "ts": last.get("ts"),
                 "data": {"s": last.get("s"), "b": [list(x) for x in bids], "a": [list(x) for x in asks],
                          "u": last.get("u"), "seq": last.get("seq")}, "cts": last.get("cts")}
        self._enqueue(self._channel(key), b"F%d %s" % (self.epoch, dumps(frame).encode()))

    def _enqueue(self, channel: str, payload: bytes) -> None:
        if self._outbox.qsize() >= PUBLISH_QUEUE_LIMIT:
            self.dropped += 1
            self._outbox.get_nowait()  # the oldest goes; replicas see the gap and ask for a snapshot
        self._outbox.put_nowait((channel, payload))

    async def _publish_loop(self) -> None:
        assert self._redis is not None
        while not self._stopped:
            first = await self._outbox.get()
            batch = [first]
            while not self._outbox.empty() and len(batch) < 1000:
                batch.append(self._outbox.get_nowait())
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for channel, payload in batch:
                        pipe.publish(channel, payload)
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                self.dropped += len(batch)
                log.warning("gateway bus: publishing failed: %s", exc)


def _apply_levels(held: _Held, body: bytes) -> None:
    """Keep a book's levels as text by Bybit's rules, so a snapshot can be rebuilt exactly."""
    try:
        msg = loads(body)
        data = msg["data"]
        bids, asks = data.get("b") or [], data.get("a") or []
    except (JSONDecodeError, KeyError, TypeError, AttributeError):
        return
    if msg.get("type") == "snapshot":
        held.bids, held.asks = {}, {}
    elif held.last is None:
        return
    for side, levels in ((held.bids, bids), (held.asks, asks)):
        for level in levels:
            if not isinstance(level, list) or len(level) < 2:
                continue
            price, size = str(level[0]), str(level[1])
            if float(size) == 0:
                side.pop(price, None)
            else:
                side[price] = size
    held.last = {"ts": msg.get("ts"), "cts": msg.get("cts"), "s": data.get("s"), "u": data.get("u"),
                 "seq": data.get("seq")}


def _ignore(_: object) -> None:
    return None
