"""Statistics feeds: ``kline`` (closed and forming candles) and ``tickers``, plus their spot v3 forms."""

from __future__ import annotations

import math
from collections.abc import Callable

from ...protocol.endpoints import Endpoint
from ..klines import Candle, KlineSeries
from ..market import Market
from ..pushes import (
    derivative_ticker_fields,
    kline_push,
    kline_rollover_in_one_frame,
    option_ticker_fields,
    spot_ticker_fields,
    ticker_delta_push,
    ticker_push,
    v3_kline_push,
    v3_ticker_fields,
    v3_ticker_push,
)
from .base import Feed


class KlineFeed(Feed):
    """``kline.{interval}.{symbol}``: closed candles (``confirm: true``) and the forming one, every 1 s."""

    order = 3
    period_ms = 1_000

    def __init__(self, topic: str, endpoint: Endpoint, market: Market, interval: str) -> None:
        super().__init__(topic, endpoint)
        self.market = market
        self.series: KlineSeries = market.klines.series[interval]
        self.closed_cursor = self.series.closed_count
        self.version = -1

    def activate(self, now_ms: int) -> None:
        self.closed_cursor = self.series.closed_count
        self.version = -1

    def _frame(self, c: Candle, now_ms: int) -> str:
        return kline_push(self.topic, now_ms, self.market.inst, c)

    def on_subscribe(self, now_ms: int) -> list[str]:
        self.market.set_time(now_ms)
        return [self._frame(self.series.current, now_ms)]

    def tick(self, now_ms: int) -> list[str]:
        s = self.series
        self.market.set_time(now_ms)
        frames: list[str] = []
        closed: list[Candle] = []
        if s.closed_count > self.closed_cursor:
            n = min(s.closed_count - self.closed_cursor, len(s.closed))
            closed = list(s.closed)[-n:]
            self.closed_cursor = s.closed_count
        current = s.current if s.version != self.version else None
        self.version = s.version
        if closed and current is not None and self._pairs_rollover():
            frames.extend(self._frame(c, now_ms) for c in closed[:-1])
            frames.append(kline_push(self.topic, now_ms, self.market.inst, closed[-1], current))
            return frames
        frames.extend(self._frame(c, now_ms) for c in closed)
        if current is not None:
            frames.append(self._frame(current, now_ms))
        return frames

    def _pairs_rollover(self) -> bool:
        return kline_rollover_in_one_frame(self.endpoint)


class V3KlineFeed(KlineFeed):
    """Legacy spot v3 ``kline.{1m..1M}.{symbol}``: ``data`` is one object with letter keys."""

    def _pairs_rollover(self) -> bool:
        return False

    def _frame(self, c: Candle, now_ms: int) -> str:
        return v3_kline_push(self.topic, now_ms, self.market.inst, c)


class TickerFeed(Feed):
    """``tickers.{symbol}``: linear/inverse snapshot + partial deltas; spot and option snapshots."""

    order = 2

    def __init__(self, topic: str, endpoint: Endpoint, market: Market,
                 underlying: Callable[[str], float] | None = None) -> None:
        super().__init__(topic, endpoint)
        self.market = market
        self.underlying = underlying
        self.period_ms = 50 if endpoint == "spot" else 100
        self.state: dict[str, str] = {}

    def fields(self, now_ms: int) -> dict[str, str]:
        """The full ticker as Bybit names its fields."""
        m = self.market
        inst, st, book = m.inst, m.stats, m.book
        mid = m.mid() or st.last_price
        if self.endpoint == "spot":
            return spot_ticker_fields(inst, st, mid)
        bid, ask = book.touch("Buy"), book.touch("Sell")
        if self.endpoint != "option":
            return derivative_ticker_fields(inst, st, mid, bid, ask, now_ms)
        under = self.underlying(inst.base) if self.underlying else inst.strike
        x = (under - inst.strike) / (0.05 * max(under, 1e-9))
        delta = 0.5 + 0.5 * math.tanh(x) - (1.0 if inst.option_type == "Put" else 0.0)
        gamma = 0.5 * (1 - math.tanh(x) ** 2) / (0.05 * max(under, 1e-9))
        return option_ticker_fields(inst, st, mid, bid, ask, under, delta, gamma)

    def activate(self, now_ms: int) -> None:
        self.state = self.fields(now_ms)

    def _snapshot(self, now_ms: int, data: dict[str, str]) -> str:
        return ticker_push(self.topic, self.endpoint, now_ms, self.market.seq, data)

    def on_subscribe(self, now_ms: int) -> list[str]:
        return [self._snapshot(now_ms, dict(self.state))]

    def tick(self, now_ms: int) -> list[str]:
        cur = self.fields(now_ms)
        if cur == self.state:
            return []
        changed = {k: v for k, v in cur.items() if self.state.get(k) != v}
        self.state = cur
        if self.endpoint in ("linear", "inverse"):
            data = {"symbol": cur["symbol"], **{k: v for k, v in changed.items() if k != "symbol"}}
            return [ticker_delta_push(self.topic, now_ms, self.market.seq, data)]
        return [self._snapshot(now_ms, cur)]


class V3TickerFeed(TickerFeed):
    """Legacy spot v3 ``tickers.{symbol}``: 24 h statistics with letter keys, on every change."""

    def __init__(self, topic: str, market: Market) -> None:
        super().__init__(topic, "spot_v3_public", market)
        self.period_ms = 100

    def fields(self, now_ms: int) -> dict[str, str]:
        return v3_ticker_fields(self.market.inst, self.market.stats)

    def _snapshot(self, now_ms: int, data: dict[str, str]) -> str:
        return v3_ticker_push(self.topic, now_ms, data)

    def tick(self, now_ms: int) -> list[str]:
        cur = self.fields(now_ms)
        if cur == self.state:
            return []
        self.state = cur
        return [self._snapshot(now_ms, cur)]
