"""Private state you can trust: open orders, positions and the wallet from a REST snapshot, then the
stream, reconciled after every reconnect of the private socket.

Bybit's private topics push changes only. ``bybit.orders()`` (and ``positions()``, ``wallet()``)
hands each subscriber a stream that starts from the truth and stays true. This is the default on
every network (mainnet, testnet, demo, sim, and a base URL, whose REST is read on the same host and
port); ``snapshot=False`` gives Bybit's bare stream:

1. **Subscribe first, buffer.** The private topic is observed at once and its rows buffered.
2. **Snapshot once the exchange holds the subscription** (the topic is acknowledged on the
   authenticated socket, or :data:`READY_TIMEOUT_S` passed): ``/v5/order/realtime``,
   ``/v5/position/list`` or ``/v5/account/wallet-balance`` for every category in scope.
3. **Merge.** Orders are keyed by ``orderId`` and positions by category, symbol and
   ``positionIdx``, and ordered by ``updatedTime``: a buffered live row as new as the snapshot's
   row (or newer) wins, an older one is dropped. The wallet has no update time: rows buffered
   before the snapshot was asked for are older than it and dropped, later ones follow it.
4. **Reconcile after every reconnect** of the private socket (a push sent while it was down is
   lost for good on Bybit): buffer again, snapshot again, and emit, as if it had streamed, every
   row that differs from what this stream last emitted. An order that was open and is missing from
   the snapshot is looked up by ``orderId`` (Bybit still answers for recently closed orders), so a
   fill during the outage shows as ``Filled``; a position that was open and is missing is read by
   symbol (size 0 when closed). Each reconcile counts on ``health.reconciliations``.
5. **A REST failure never stops the stream**: ``health.last_error`` says the stream went on
   live-only and why, and the buffered rows go out as they are.

**What a row read from REST looks like.** It has the fields of Bybit's REST answer (for orders and
positions the same names as the stream's rows, plus ``category``), and one more field,
:data:`SOURCE` (``"rxbybitSource"``), which streamed rows never have:

- ``"snapshot"``: the state when this observer subscribed (an order that was already open, a
  position already held, the balance). It is *not* an event: code that counts creates or fills
  skips it (:func:`is_snapshot_row`).
- ``"reconcile"``: a change that happened while the private socket was down, read after the
  reconnect (an order created, amended or filled during the outage, shown as it is now). It stands
  for pushes Bybit sent while nobody listened, so it *is* an event. A row whose key this stream
  already showed with the same ``updatedTime`` (or, for the wallet, the same values) is not emitted
  again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from reactivex import abc
from reactivex.disposable import Disposable

from ..protocol.orders import OrderStatus
from ..rest import RestClient
from .stream import Stream

log = logging.getLogger("rxbybit.client")

READY_TIMEOUT_S: Final = 5.0
"""Longest wait for the private subscription before the snapshot is read anyway."""

Row = Mapping[str, Any]
Key = tuple[Any, ...]

SOURCE: Final = "rxbybitSource"
"""The field that marks a row read from REST (its value is :data:`SNAPSHOT` or :data:`RECONCILE`)."""
SNAPSHOT: Final = "snapshot"
"""State when the observer subscribed: not an event."""
RECONCILE: Final = "reconcile"
"""A change made while the private socket was down, read after the reconnect: an event."""


def is_snapshot_row(row: Row) -> bool:
    """True for a row that is the state at subscribe time, not an event (skip it when counting events)."""
    return row.get(SOURCE) == SNAPSHOT


def _bare(row: Row | None) -> Row | None:
    """``row`` without the :data:`SOURCE` marker (to compare what a row says)."""
    if row is None or SOURCE not in row:
        return row
    return {k: v for k, v in row.items() if k != SOURCE}


class SnapshotUnavailable(Exception):
    """A private snapshot could not be read: the stream goes on live-only (reported on health)."""

ORDER_CATEGORIES: Final = ("linear", "inverse", "spot", "option")
POSITION_CATEGORIES: Final = ("linear", "inverse", "option")


def _version(row: Row) -> int:
    try:
        return int(row.get("updatedTime") or 0)
    except (TypeError, ValueError):
        return 0


def _order_open(row: Row) -> bool:
    try:
        return OrderStatus(str(row.get("orderStatus"))).is_active
    except ValueError:
        return False


def _position_open(row: Row) -> bool:
    try:
        return float(row.get("size") or 0) != 0.0
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class StateKind:
    """How one private family is snapshotted, keyed, ordered and resolved."""

    family: str
    key: Callable[[Row], Key]
    versioned: bool
    snapshot: Callable[[RestClient], Awaitable[list[Row]]]
    missing: Callable[[RestClient, Row], Awaitable[list[Row]]] | None = None
    """Reads the current row of a key that was open and is absent from a snapshot."""
    is_open: Callable[[Row], bool] = lambda row: True


def orders_kind(category: str | None) -> StateKind:
    """Open orders (``order`` rows keyed by ``orderId``)."""
    cats = ORDER_CATEGORIES if category is None else (category,)

    async def snapshot(rest: RestClient) -> list[Row]:
        return [{"category": c, **r} for c in cats for r in await rest.open_orders(c)]

    async def missing(rest: RestClient, row: Row) -> list[Row]:
        cat = str(row.get("category") or cats[0])
        return [{"category": cat, **r} for r in await rest.open_orders(cat, order_id=str(row["orderId"]))]

    return StateKind("order", lambda r: (r.get("orderId"),), True, snapshot, missing, _order_open)


def positions_kind(category: str | None) -> StateKind:
    """Positions (``position`` rows keyed by category, symbol and ``positionIdx``)."""
    cats = POSITION_CATEGORIES if category is None else (category,)

    async def snapshot(rest: RestClient) -> list[Row]:
        rows: list[Row] = []
        for c in cats:
            rows += [{"category": c, **r} for r in await rest.positions(c)]
        return rows

    async def missing(rest: RestClient, row: Row) -> list[Row]:
        cat = str(row.get("category") or cats[0])
        return [{"category": cat, **r} for r in await rest.positions(cat, symbol=str(row["symbol"]))]

    return StateKind("position", lambda r: (r.get("category"), r.get("symbol"), r.get("positionIdx", 0)), True,
                     snapshot, missing, _position_open)


def wallet_kind() -> StateKind:
    """The unified wallet (one ``wallet`` row keyed by ``accountType``)."""

    async def snapshot(rest: RestClient) -> list[Row]:
        row = await rest.wallet_balance()
        return [row] if row else []

    return StateKind("wallet", lambda r: (r.get("accountType", "UNIFIED"),), False, snapshot)


class StateStreams:
    """Every live snapshot-backed private stream of one client, so a reconnect reconciles them all."""

    def __init__(self, rest: Callable[[], RestClient], ready: Callable[[str, float], Awaitable[bool]],
                 on_error: Callable[[str, Exception], None], on_reconciled: Callable[[], None]) -> None:
        self._rest = rest
        self._ready = ready
        self._on_error = on_error
        self._on_reconciled = on_reconciled
        self._live: set[_Subscriber] = set()
        self._reconnects_seen = 0
        self.reconciliations = 0
        """Reconciles done after reconnects, over all streams."""

    def stream(self, live: Stream[Row], kind: StateKind, topic: str) -> Stream[Row]:
        """``live`` (a private topic's rows) started from a snapshot and reconciled on reconnects."""

        def subscribe(observer: abc.ObserverBase[Row], scheduler: abc.SchedulerBase | None = None
                      ) -> abc.DisposableBase:
            sub = _Subscriber(self, kind, topic, observer)
            self._live.add(sub)
            sub.start(initial=True)

            def ended() -> None:
                self._live.discard(sub)
                sub.stop()

            def on_error(exc: Exception) -> None:
                ended()
                observer.on_error(exc)

            def on_completed() -> None:  # the client closed: nothing after the end
                ended()
                observer.on_completed()

            inner = live.subscribe(sub.on_live, on_error, on_completed)

            def dispose() -> None:
                self._live.discard(sub)
                sub.stop()
                inner.dispose()

            return Disposable(dispose)

        return Stream(subscribe, live.origin)

    def connection_state(self, state: str, reconnects: int) -> None:
        """The private socket changed state: once it is connected again after a drop, reconcile."""
        if state != "connected":
            return
        if reconnects > self._reconnects_seen:
            self._reconnects_seen = reconnects
            for sub in list(self._live):
                sub.start(initial=False)
        self._reconnects_seen = max(self._reconnects_seen, reconnects)

    def _reconciled(self) -> None:
        self.reconciliations += 1
        self._on_reconciled()


class _Subscriber:
    """One observer's merge state: what it was last shown per key, and the buffer while reading."""

    def __init__(self, hub: StateStreams, kind: StateKind, topic: str, observer: abc.ObserverBase[Row]) -> None:
        self.hub, self.kind, self.topic, self.observer = hub, kind, topic, observer
        self.shown: dict[Key, Row] = {}
        self.buffer: list[tuple[bool, Row]] | None = None
        """While reading: (arrived after the snapshot was asked for, row)."""
        self.asked = False
        self.task: asyncio.Task[None] | None = None
        self.again = False
        self.stopped = False
        """The observer left: no read goes on (a cancel can be lost, see :meth:`_once`)."""

    def on_live(self, row: Row) -> None:
        if self.buffer is not None:
            self.buffer.append((self.asked, row))
        else:
            self._emit(row)

    def _emit(self, row: Row) -> None:
        self.shown[self.kind.key(row)] = row
        self.observer.on_next(row)

    def start(self, *, initial: bool) -> None:
        if self.stopped:
            return
        if self.buffer is None:
            self.buffer = []
            self.asked = False
        if self.task is not None and not self.task.done():
            self.again = True
            return
        self.task = asyncio.get_running_loop().create_task(self._run(initial),
                                                           name=f"rxbybit-state-{self.topic}")

    def stop(self) -> None:
        self.stopped = True
        if self.task is not None:
            self.task.cancel()

    async def _run(self, initial: bool) -> None:
        while True:
            self.again = False
            await self._once(initial)
            if not initial:
                self.hub._reconciled()
            if not self.again:
                return
            initial = False
            self.buffer, self.asked = [], False

    async def _once(self, initial: bool) -> None:
        await self.hub._ready(self.topic, READY_TIMEOUT_S)  # after a timeout the read goes ahead
        if self.stopped:  # Python 3.11's wait_for drops a cancel that meets the wake-up
            return
        kind = self.kind
        try:
            rest = self.hub._rest()
            self.asked = True
            snapshot = await kind.snapshot(rest)
            held = self.buffer or []
            fresh = {kind.key(r): r for r in snapshot}
            resolved: list[Row] = []
            if kind.missing is not None:
                live_keys = {kind.key(r) for _, r in held}
                for key, row in list(self.shown.items()):
                    if key not in fresh and key not in live_keys and kind.is_open(row):
                        resolved += await kind.missing(rest, row)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the stream goes on from the buffer
            if self.stopped:
                return
            log.warning("snapshot of %s could not be read; going on from the stream alone: %s", self.topic, exc)
            self.hub._on_error(self.topic, SnapshotUnavailable(
                f"the REST snapshot of {self.topic} could not be read, so it goes on live-only: {exc}"))
            held, self.buffer = self.buffer or [], None
            for _, row in held:
                self._emit(row)
            return
        if self.stopped:
            return
        held, self.buffer = self.buffer or [], None
        for row in self._merge(fresh, resolved, held, initial):
            self._emit(row)

    def _unchanged(self, key: Key, row: Row) -> bool:
        shown = self.shown.get(key)
        if shown is None:
            return False
        if self.kind.versioned and _version(row) > 0:
            return _version(shown) >= _version(row)
        return _bare(shown) == _bare(row)

    def _merge(self, fresh: Mapping[Key, Row], resolved: Iterable[Row], held: list[tuple[bool, Row]],
               initial: bool) -> list[Row]:
        kind = self.kind
        out: list[Row] = []
        newest_live: dict[Key, int] = {}
        for _, row in held:
            k = kind.key(row)
            newest_live[k] = max(newest_live.get(k, 0), _version(row))
        marker = SNAPSHOT if initial else RECONCILE
        for k, row in [*fresh.items(), *((kind.key(r), r) for r in resolved)]:
            if kind.versioned and k in newest_live and newest_live[k] >= _version(row):
                continue  # the stream already has this key as new or newer
            if not initial and self._unchanged(k, row):
                continue  # nothing changed during the outage
            out.append({**row, SOURCE: marker})
        emitted = {kind.key(r): _version(r) for r in out}
        for after_ask, row in held:
            k = kind.key(row)
            if kind.versioned:
                if _version(row) < emitted.get(k, 0):
                    continue
            elif not after_ask and k in emitted:
                continue
            out.append(row)
        return out
