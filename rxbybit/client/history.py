"""History and live as one stream: stored candles or trades from REST, then the live ones.

The seam rules (each subscriber gets its own history read):

1. **Subscribe first, buffer.** The live topic is observed at once; its items are buffered.
2. **Fetch after the exchange holds the subscription.** The REST read starts once Bybit has
   acknowledged the topic on the socket (at most :data:`READY_TIMEOUT_S` later), so everything the
   REST answer misses is pushed live.
3. **Merge by key.**
   - *Candles* (key ``start``): the stored candles older than the first buffered live candle are
     emitted (``confirm=True``), then the buffered live ones, then every live candle. With nothing
     buffered, every stored candle is emitted, the newest as the open one (``confirm=False``), and
     the live stream updates it. After the seam a live candle older than the last emitted one is
     dropped (never a step back); one with the same ``start`` is an update of it, never a second
     candle. So the candle open at connect time is emitted once and then updated.
   - *Trades* (key ``execId``): the stored trades are emitted oldest first, then the buffered live
     trades not among them, then live ones; a live trade whose id the history held is dropped
     until the first live trade newer than the newest stored one has passed.
4. **A REST failure never stops the stream.** The error goes to ``health.last_error`` and the
   stream goes on live-only, from the buffer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, Generic, TypeVar

from reactivex import abc
from reactivex.disposable import Disposable

from ..protocol import rest as R
from ..protocol.events import Candle, Trade
from ..protocol.topics import KLINE_INTERVAL_MS
from ..rest import RestClient
from .stream import Stream

log = logging.getLogger("rxbybit.client")

T = TypeVar("T")

READY_TIMEOUT_S: Final = 5.0
"""Longest wait for the subscription before history is read anyway."""
MAX_HISTORY: Final = 50_000
"""Most stored items one stream starts with."""


class Seam(Generic[T]):
    """Where history ends and live begins, for one subscriber (see the module doc)."""

    def merge(self, history: Sequence[T], buffered: Sequence[T]) -> list[T]:
        """What to emit at the seam, in order."""
        raise NotImplementedError

    def admit(self, item: T) -> bool:
        """True when a live item after the seam is emitted."""
        raise NotImplementedError

    def emitted(self, item: T) -> None:
        """``item`` went out (a seam that remembers the last one overrides this)."""


class CandleSeam(Seam[Candle]):
    """Candles keyed on ``start``: no gap, no duplicate, no step back."""

    def __init__(self) -> None:
        self.last_start: int | None = None

    def merge(self, history: Sequence[Candle], buffered: Sequence[Candle]) -> list[Candle]:
        first_live = buffered[0].start if buffered else None
        return [*(c for c in history if first_live is None or c.start < first_live), *buffered]

    def admit(self, item: Candle) -> bool:
        return self.last_start is None or item.start >= self.last_start

    def emitted(self, item: Candle) -> None:
        """Later live candles may not start before ``item``."""
        self.last_start = item.start


class TradeSeam(Seam[Trade]):
    """Trades keyed on their ``execId``: each printed once."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.newest_ts = 0

    def merge(self, history: Sequence[Trade], buffered: Sequence[Trade]) -> list[Trade]:
        self.ids = {t.trade_id for t in history}
        self.newest_ts = max((t.ts for t in history), default=0)
        return [*history, *(t for t in buffered if self.admit(t))]

    def admit(self, item: Trade) -> bool:
        if not self.ids:
            return True
        if item.trade_id in self.ids:
            return False
        if item.ts > self.newest_ts:
            self.ids = set()  # past the history: no live trade can repeat it any more
        return True


def with_history(live: Stream[T], fetch: Callable[[], Awaitable[list[T]]], seam_factory: Callable[[], Seam[T]],
                 *, ready: Callable[[float], Awaitable[bool]], name: str,
                 on_error: Callable[[str, Exception], None]) -> Stream[T]:
    """``live`` preceded by ``fetch()``'s stored items, merged by a fresh seam per subscriber.

    ``await ready(timeout)`` returns once the exchange holds the live subscription (False: timed out).
    """

    def subscribe(observer: abc.ObserverBase[T], scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        seam = seam_factory()
        buffer: list[T] | None = []
        gone = False  # the observer left (Python 3.11's wait_for can drop a cancel that meets the wake-up)

        def emit(item: T) -> None:
            seam.emitted(item)
            observer.on_next(item)

        def on_live(item: T) -> None:
            if buffer is not None:
                buffer.append(item)
            elif seam.admit(item):
                emit(item)

        async def run() -> None:
            nonlocal buffer
            await ready(READY_TIMEOUT_S)  # after a timeout the read goes ahead: late beats never
            if gone:
                return
            try:
                history = await fetch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the stream goes on live-only
                if gone:
                    return
                log.warning("history of %s could not be read; going on live only: %s", name, exc)
                on_error(name, exc)
                history = []
            if gone:
                return
            held, buffer = buffer or [], None
            for item in seam.merge(history, held):
                emit(item)

        def stop() -> None:
            nonlocal gone
            gone = True
            task.cancel()

        def failed(exc: Exception) -> None:
            stop()
            observer.on_error(exc)

        def on_completed() -> None:  # the client closed: no history after the end
            stop()
            observer.on_completed()

        task = asyncio.get_running_loop().create_task(run(), name=f"rxbybit-history-{name}")
        sub = live.subscribe(on_live, failed, on_completed)

        def dispose() -> None:
            stop()
            sub.dispose()

        return Disposable(dispose)

    return Stream(subscribe, live.origin)


async def fetch_candles(rest: RestClient, category: str, symbol: str, interval: str, n: int) -> list[Candle]:
    """The latest ``n`` candles (the newest one still open), oldest first, paging back 1000 at a time."""
    n = max(0, min(n, MAX_HISTORY))
    rows: list[Any] = []
    end: int | None = None
    while len(rows) < n:
        batch = await rest.kline(category, symbol, interval, end=end, limit=min(R.KLINE_MAX_LIMIT, n - len(rows)))
        if end is not None:
            batch = [r for r in batch if int(r[0]) <= end]
        if not batch:
            break
        rows += batch
        end = int(batch[-1][0]) - 1
    return R.kline_candles(rows[:n], interval, KLINE_INTERVAL_MS.get(interval) if interval != "M" else None)


async def fetch_trades(rest: RestClient, category: str, symbol: str, n: int) -> list[Trade]:
    """The latest ``n`` public trades (at most what Bybit keeps: 1000, spot 60), oldest first."""
    limit = max(1, min(n, 60 if category == "spot" else R.RECENT_TRADE_MAX_LIMIT))
    return R.recent_trades(await rest.recent_trades(category, symbol, limit=limit))
