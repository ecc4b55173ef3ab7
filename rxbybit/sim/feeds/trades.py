"""Trade feeds: ``publicTrade`` (options: by base coin), spot v3 ``trade`` and ``allLiquidation``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ...protocol.endpoints import Endpoint
from ..market import Market, PublicTrade
from ..pushes import liquidations_push, trade_row, trades_push, v3_trade_push
from .base import Feed

TRADES_PER_MESSAGE: Final = 1_024


class TradeFeed(Feed):
    """``publicTrade.{symbol}`` (options: by base coin over several markets): every new trade."""

    order = 0
    period_ms = 10

    def __init__(self, topic: str, endpoint: Endpoint, markets: list[Market],
                 underlying: Callable[[str], float] | None = None) -> None:
        super().__init__(topic, endpoint)
        self.markets = markets
        self.cursors = [m.trade_count for m in markets]
        self.underlying = underlying

    def activate(self, now_ms: int) -> None:
        self.cursors = [m.trade_count for m in self.markets]

    def _new_trades(self) -> list[tuple[Market, PublicTrade]]:
        out: list[tuple[Market, PublicTrade]] = []
        for i, m in enumerate(self.markets):
            cur = self.cursors[i]
            if m.trade_count == cur:
                continue
            new = m.trade_count - cur
            trades = list(m.trades)[-new:] if new < len(m.trades) else list(m.trades)
            out.extend((m, t) for t in trades)
            self.cursors[i] = m.trade_count
        if len(self.markets) > 1:
            out.sort(key=lambda mt: mt[1].ts)
        return out

    def _row(self, m: Market, t: PublicTrade) -> dict[str, object]:
        inst = m.inst
        if inst.category != "option":
            return trade_row(inst, t)
        under = self.underlying(inst.base) if self.underlying else 0.0
        return trade_row(inst, t, m.mid() or t.price, under)

    def tick(self, now_ms: int) -> list[str]:
        trades = self._new_trades()
        if not trades:
            return []
        option = self.endpoint == "option"
        frames = []
        for i in range(0, len(trades), TRADES_PER_MESSAGE):
            rows = [self._row(m, t) for m, t in trades[i : i + TRADES_PER_MESSAGE]]
            seq = trades[i][1].seq if option else None
            frames.append(trades_push(self.topic, now_ms, rows, option_seq=seq))
        return frames


class V3TradeFeed(TradeFeed):
    """Legacy spot v3 ``trade.{symbol}``: one frame per trade, ``data`` an object."""

    def tick(self, now_ms: int) -> list[str]:
        return [v3_trade_push(self.topic, now_ms, m.inst, t) for m, t in self._new_trades()]


class LiquidationFeed(Feed):
    """``allLiquidation.{symbol}``: liquidations of the last 500 ms."""

    order = 4
    period_ms = 500

    def __init__(self, topic: str, endpoint: Endpoint, market: Market) -> None:
        super().__init__(topic, endpoint)
        self.market = market
        self.cursor = market.liquidation_count

    def activate(self, now_ms: int) -> None:
        self.cursor = self.market.liquidation_count

    def tick(self, now_ms: int) -> list[str]:
        m = self.market
        if m.liquidation_count == self.cursor:
            return []
        events = [e for e in m.liquidations if e.n > self.cursor]
        self.cursor = m.liquidation_count
        return [liquidations_push(self.topic, now_ms, m.inst, events)]
