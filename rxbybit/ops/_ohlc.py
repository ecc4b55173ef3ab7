"""to_ohlc: build candles from a trade stream at any pandas frequency."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pandas as pd
import reactivex as rx
from pandas.tseries.frequencies import to_offset
from reactivex import abc

from ..client.stream import Stream
from ..protocol import Candle
from ._stateful import derived


class _Buckets:
    """Maps an epoch-ms time to its bucket ``[start, end)``; fixed frequencies use integer math."""

    def __init__(self, freq: str | pd.DateOffset | pd.Timedelta) -> None:
        try:
            self.offset = to_offset(freq)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"to_ohlc: {freq!r} is not a pandas frequency (try '1min', '5s', '1h'): {exc}") from exc
        self.step: int | None = None
        if isinstance(self.offset, pd.offsets.Tick):
            nanos = int(self.offset.nanos)
            if nanos < 1_000_000 or nanos % 1_000_000:
                raise ValueError(f"to_ohlc: frequency {freq!r} must be a whole number of milliseconds")
            self.step = nanos // 1_000_000

    def bucket(self, ts: int) -> tuple[int, int]:
        """``(start, end)`` in epoch ms; candles are labelled by their start and include it."""
        if self.step is not None:
            start = ts - ts % self.step
            return start, start + self.step
        day = pd.Timestamp(ts, unit="ms", tz="UTC").normalize()
        first = self.offset.rollback(day)
        nxt = first + self.offset
        return int(first.value // 1_000_000), int(nxt.value // 1_000_000)


def to_ohlc(
    freq: str | pd.DateOffset | pd.Timedelta = "1min", *, emit: Literal["each", "close"] = "each"
) -> Callable[[rx.Observable[Any]], Stream[Candle]]:
    """Aggregate one symbol's trades into candles of ``freq`` (any pandas frequency, by exchange time).

    With ``emit="each"`` every trade emits the updated open candle (``confirm=False``); when a trade
    opens the next bucket the finished candle is emitted once more with ``confirm=True`` first.
    ``emit="close"`` emits only finished candles. The open candle is finished when the stream
    completes. Buckets are left-closed and labelled by their start, aligned to the epoch for fixed
    frequencies (``"1min"``, ``"15s"``, ``"4h"``) and to the offset for calendar ones (``"MS"``,
    ``"W-MON"``). Buckets without trades produce no candle. A trade older than the open candle
    belongs to a finished candle and is ignored. Mixing symbols is an error. Example::

        bars = trades.pipe(ops.to_ohlc("1min"), ops.to_frame(max_rows=1_000))
        bars.df[["open", "high", "low", "close", "volume"]]
    """
    buckets = _Buckets(freq)
    label = freq if isinstance(freq, str) else buckets.offset.freqstr
    if emit not in ("each", "close"):
        raise ValueError(f"emit must be 'each' or 'close', got {emit!r}")

    def operator(source: rx.Observable[Any]) -> Stream[Candle]:
        def subscribe(
            observer: abc.ObserverBase[Candle], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            state: dict[str, Any] = {"c": None, "symbol": None, "end": 0}

            def finish() -> Candle | None:
                c: Candle | None = state["c"]
                if c is None:
                    return None
                state["c"] = None
                return Candle(c.start, c.end, c.interval, c.open, c.high, c.low, c.close, c.volume,
                              c.turnover, True, c.timestamp)

            def on_next(t: Any) -> None:
                try:
                    ts, price, size, symbol = int(t.ts), float(t.price), float(t.size), t.symbol
                except AttributeError:
                    observer.on_error(TypeError(f"to_ohlc needs trades (ts, price, size, symbol), got "
                                                f"a {type(t).__name__}: {t!r:.120}"))
                    return
                if state["symbol"] is None:
                    state["symbol"] = symbol
                elif symbol != state["symbol"]:
                    observer.on_error(ValueError(
                        f"to_ohlc got trades of {state['symbol']} and {symbol}: build one candle stream per "
                        f"symbol (e.g. filter by symbol first)"))
                    return
                c: Candle | None = state["c"]
                if c is not None and ts < c.start:
                    return  # late trade for an already finished candle
                if c is not None and ts >= state["end"]:
                    done = finish()
                    assert done is not None
                    observer.on_next(done)
                    c = None
                if c is None:
                    start, end = buckets.bucket(ts)
                    state["end"] = end
                    c = Candle(start, end - 1, label, price, price, price, price, size, price * size, False, ts)
                else:
                    c = Candle(c.start, c.end, label, c.open, max(c.high, price), min(c.low, price), price,
                               c.volume + size, c.turnover + price * size, False, max(c.timestamp, ts))
                state["c"] = c
                if emit == "each":
                    observer.on_next(c)

            def on_completed() -> None:
                done = finish()
                if done is not None:
                    observer.on_next(done)
                observer.on_completed()

            return source.subscribe(on_next, observer.on_error, on_completed, scheduler=scheduler)

        return derived(source, subscribe)

    return operator
