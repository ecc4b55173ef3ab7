"""The rows of the simulator's REST answers, in Bybit's field names and string formats.

Market rows come from the same :class:`~.market.Market` the streams push from, so the REST
history and the streams agree: recent trades are the trades ``publicTrade`` printed, the kline
history ends with the candle the ``kline`` stream keeps updating, and instruments carry the tick
and lot sizes the books use. Before the simulator started there is no market; the kline history of
that time is a seeded random walk that ends exactly at the price the market started from
(:class:`KlineHistory`), the same for the same seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from typing import Any, Final

from ..protocol.topics import KLINE_INTERVAL_MS
from .instruments import Instrument
from .klines import Candle, candle_start
from .market import Market, PublicTrade

SYNTH_CANDLES: Final = 1_000
"""Candles of seeded history each interval has before the simulator's start."""

FAR_FUTURE_MS: Final = 4_102_444_800_000
"""2100-01-01: the ``deliveryTime`` of nothing (perpetuals say ``0``)."""


def _turnover(x: float) -> str:
    return f"{x:.4f}"


def candle_row(inst: Instrument, c: Candle) -> list[str]:
    """``[startTime, open, high, low, close, volume, turnover]`` as Bybit's kline list writes it."""
    return [str(c.start), inst.px(c.open), inst.px(c.high), inst.px(c.low), inst.px(c.close),
            inst.qty(c.volume), _turnover(c.turnover)]


def _prev_start(interval: str, start: int) -> int:
    return candle_start(interval, start - 1)


class KlineHistory:
    """Seeded candles before the start, per market and interval, computed once on first use."""

    def __init__(self, seed: int, start_ms: int) -> None:
        self.seed = seed
        self.start_ms = start_ms
        self._anchors: dict[tuple[str, str], int] = {}
        self._cache: dict[tuple[str, str, str], list[Candle]] = {}

    def anchor(self, market: Market) -> None:
        """Remember the price ``market`` starts from (call before the market steps)."""
        self._anchors[(market.inst.category, market.inst.symbol)] = market.klines.series["1"].current.open

    def candles(self, market: Market, interval: str) -> list[Candle]:
        """The seeded candles of ``interval`` before the start, oldest first."""
        inst = market.inst
        key = (inst.category, inst.symbol, interval)
        cached = self._cache.get(key)
        if cached is None:
            anchor = self._anchors.get((inst.category, inst.symbol), market.ref)
            cached = self._cache[key] = self._walk(inst, interval, anchor)
        return cached

    def _walk(self, inst: Instrument, interval: str, anchor: int) -> list[Candle]:
        rng = random.Random(f"{self.seed}:{inst.category}:{inst.symbol}:kline:{interval}")
        length = KLINE_INTERVAL_MS.get(interval, 30 * 86_400_000)
        sigma = min(0.15, 0.0008 * math.sqrt(length / 60_000))
        tick, lot = inst.tick, inst.lot
        out: list[Candle] = []
        start = candle_start(interval, self.start_ms)
        close = anchor
        for _ in range(SYNTH_CANDLES):
            end = start - 1
            start = _prev_start(interval, start)
            if start <= 0:
                break
            open_ = max(tick, round(close * math.exp(rng.gauss(0, sigma)) / tick) * tick)
            hi = max(open_, close) + round(max(open_, close) * abs(rng.gauss(0, sigma / 2)) / tick) * tick
            lo = max(tick, min(open_, close) - round(min(open_, close) * abs(rng.gauss(0, sigma / 2)) / tick) * tick)
            notional = math.exp(rng.uniform(math.log(2e4), math.log(2e6))) * (length / 60_000) ** 0.8
            mid = inst.pxf((open_ + close) // 2) or 1.0
            base = notional / mid if not inst.inverse else notional
            volume = max(lot, int(base * 10**inst.qty_dec) // lot * lot)
            turnover = inst.qtyf(volume) * mid if not inst.inverse else inst.qtyf(volume) / mid
            out.append(Candle(interval, start, end, open_, hi, lo, close, volume, turnover, end, True, 0))
            close = open_
        out.reverse()
        return out


def kline_rows(market: Market, interval: str, history: KlineHistory, *, start: int | None, end: int | None,
               limit: int) -> list[list[str]]:
    """The kline list of a request: seeded history, closed candles and the forming one, newest
    first, within ``[start, end]`` (by candle start), at most ``limit``."""
    series = market.klines.series[interval]
    live = [*series.closed, series.current]
    first_live = live[0].start
    if series.closed_count > len(series.closed):  # older live candles were dropped: no seeded ones
        older: list[Candle] = []
    else:
        older = [c for c in history.candles(market, interval) if c.start < first_live]
    rows: list[list[str]] = []
    for c in reversed(older + live):
        if end is not None and c.start > end:
            continue
        if start is not None and c.start < start:
            break
        rows.append(candle_row(market.inst, c))
        if len(rows) >= limit:
            break
    return rows


def trade_rows(markets: Iterable[Market], limit: int) -> list[dict[str, Any]]:
    """The latest ``limit`` public trades of ``markets`` (options: every strike of a base coin), newest first."""
    picked: list[tuple[Market, PublicTrade]] = []
    for m in markets:
        trades = m.trades
        n = min(limit, len(trades))
        picked.extend((m, trades[len(trades) - 1 - i]) for i in range(n))
    picked.sort(key=lambda mt: (mt[1].ts, mt[1].n), reverse=True)
    out = []
    for m, t in picked[:limit]:
        inst = m.inst
        out.append({"execId": t.trade_id, "symbol": inst.symbol, "price": inst.px(t.price), "size": inst.qty(t.qty),
                    "side": t.side, "time": str(t.ts), "isBlockTrade": False, "isRPITrade": False})
    return out


def book_result(market: Market, limit: int, now_ms: int) -> dict[str, Any]:
    """``/v5/market/orderbook``'s result: the best ``limit`` levels of each side."""
    inst, book = market.inst, market.book
    side = {s: [[inst.px(p), inst.qty(q)] for p, q in book.top(s, limit)] for s in ("Buy", "Sell")}
    return {"s": inst.symbol, "b": side["Buy"], "a": side["Sell"], "ts": now_ms, "u": market.seq,
            "seq": market.seq, "cts": now_ms}


def instrument_row(inst: Instrument, start_ms: int) -> dict[str, Any]:
    """One instruments-info row: tick and lot are the ones the simulator's books and engine use."""
    tick, lot = inst.px(inst.tick), inst.qty(inst.lot)
    max_qty = inst.qty(inst.lot * 10**9)
    if inst.category == "spot":
        return {
            "symbol": inst.symbol, "baseCoin": inst.base, "quoteCoin": inst.quote, "innovation": "0",
            "status": "Trading", "marginTrading": "utaOnly", "stTag": "0",
            "lotSizeFilter": {"basePrecision": lot, "quotePrecision": inst.px(inst.tick), "minOrderQty": lot,
                              "maxOrderQty": max_qty, "minOrderAmt": "0", "maxOrderAmt": "100000000"},
            "priceFilter": {"tickSize": tick},
            "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.05"},
        }
    lot_filter = {"maxOrderQty": max_qty, "minOrderQty": lot, "qtyStep": lot}
    price_filter = {"minPrice": tick, "maxPrice": inst.px(inst.tick * 10**9), "tickSize": tick}
    if inst.category == "option":
        return {
            "symbol": inst.symbol, "optionsType": inst.option_type, "status": "Trading", "baseCoin": inst.base,
            "quoteCoin": inst.quote, "settleCoin": inst.settle, "launchTime": str(start_ms),
            "deliveryTime": str(FAR_FUTURE_MS), "deliveryFeeRate": "0.00015",
            "priceFilter": price_filter, "lotSizeFilter": lot_filter, "displayName": "",
        }
    return {
        "symbol": inst.symbol, "contractType": "InversePerpetual" if inst.inverse else "LinearPerpetual",
        "status": "Trading", "baseCoin": inst.base, "quoteCoin": inst.quote, "launchTime": str(start_ms),
        "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": str(inst.price_dec),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": price_filter,
        "lotSizeFilter": {**lot_filter, "postOnlyMaxOrderQty": max_qty, "maxMktOrderQty": max_qty,
                          "minNotionalValue": "0"},
        "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": inst.settle, "copyTrading": "both",
        "upperFundingRate": "0.005", "lowerFundingRate": "-0.005", "isPreListing": False, "preListingInfo": None,
        "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"}, "displayName": "",
    }
