"""Public feeds: one publisher per subscribed topic, shared by every connection that subscribed it.

A feed turns the market model into Bybit frames at the topic's documented cadence (virtual
milliseconds; the server scales them by ``speed``). Book feeds keep the state they last pushed, so
``u`` is contiguous per topic, every subscriber sees the same ``u``, a late subscriber gets a
snapshot of exactly what the others hold, and tests can read the published book as ground truth.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable
from typing import Any, Final, Protocol

from ..protocol._json import dumps
from ..protocol.topics import BOOK_PUSH_MS, V3_KLINE_TO_V5, Endpoint, Topic
from .instruments import Instrument
from .klines import Candle, KlineSeries
from .market import Market, PublicTrade

LEVEL1_REPUSH_MS: Final = 3_000
"""A level-1 book that did not change is pushed again (same ``u``) after this long."""
TRADES_PER_MESSAGE: Final = 1_024


Levels = list[tuple[float, float]]


class Sink(Protocol):
    """Where a feed's frames go: one client connection."""

    def send_text(self, text: str) -> None:
        """Queue one text frame for this connection."""


class Feed:
    """Base publisher: subscribers, cadence and the frames of one topic."""

    period_ms: int = 100
    order: int = 5
    """Feeds of a cycle run in this order: trades (0) before books (1) before tickers (2)."""

    def __init__(self, topic: str, endpoint: Endpoint) -> None:
        self.topic = topic
        self.endpoint = endpoint
        self.subscribers: set[Sink] = set()
        self.next_due = 0.0

    @property
    def active(self) -> bool:
        """True while at least one connection subscribes the topic."""
        return bool(self.subscribers)

    def activate(self, now_ms: int) -> None:
        """Called when the first subscriber arrives."""

    def on_subscribe(self, now_ms: int) -> list[str]:
        """Frames a new subscriber gets first (after the ack)."""
        return []

    def tick(self, now_ms: int) -> list[str]:
        """Frames for every subscriber at this cadence point (may be empty)."""
        return []


# ---------------------------------------------------------------------------------- books


class BookFeed(Feed):
    """``orderbook.{depth}.{symbol}``: snapshot then contiguous deltas (level 1: snapshots only)."""

    order = 1

    def __init__(self, topic: str, endpoint: Endpoint, market: Market, depth: int) -> None:
        super().__init__(topic, endpoint)
        self.market = market
        self.depth = depth
        self.period_ms = BOOK_PUSH_MS.get(depth, 100)
        # real update ids are large; starting at 1 would read as a service restart (u == 1)
        self.u = 10_000_000 + zlib.crc32(f"{market.seed}:{topic}".encode()) % 90_000_000
        self.seq = 0
        self.cts = 0
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.last_push_ms = 0
        self.skip = 0
        """Pending ``u`` gaps to inject (fault: skip a delta)."""
        self.snapshot_only = depth == 1

    def _capture(self, now_ms: int) -> None:
        m = self.market
        self.bids = dict(m.book.top("Buy", self.depth))
        self.asks = dict(m.book.top("Sell", self.depth))
        self.seq = m.seq
        self.cts = m.now
        self.last_push_ms = now_ms

    def activate(self, now_ms: int) -> None:
        self.u += 1
        self._capture(now_ms)

    def on_subscribe(self, now_ms: int) -> list[str]:
        return [self.snapshot_frame(now_ms)]

    def restart(self, now_ms: int) -> list[str]:
        """Fault: the book service restarted; re-send as a ``u == 1`` snapshot."""
        self.skip = 0
        if not self.active:
            self.u = 0
            return []
        self.u = 1
        self._capture(now_ms)
        return [self.snapshot_frame(now_ms)]

    def _levels(self, side: dict[int, int], reverse: bool) -> list[list[str]]:
        inst = self.market.inst
        return [[inst.px(p), inst.qty(side[p])] for p in sorted(side, reverse=reverse)]

    def _frame(self, kind: str, now_ms: int, bids: list[list[str]], asks: list[list[str]]) -> str:
        data = {"s": self.market.inst.symbol, "b": bids, "a": asks, "u": self.u, "seq": self.seq}
        if self.endpoint == "spot" or self.depth == 1:
            return dumps({"topic": self.topic, "ts": now_ms, "type": kind, "data": data, "cts": self.cts})
        return dumps({"topic": self.topic, "type": kind, "ts": now_ms, "data": data, "cts": self.cts})

    def snapshot_frame(self, now_ms: int) -> str:
        """The last pushed state as a snapshot."""
        return self._frame("snapshot", now_ms, self._levels(self.bids, True), self._levels(self.asks, False))

    def tick(self, now_ms: int) -> list[str]:
        m = self.market
        bids = dict(m.book.top("Buy", self.depth))
        asks = dict(m.book.top("Sell", self.depth))
        db = _diff(self.bids, bids)
        da = _diff(self.asks, asks)
        if not db and not da:
            if self.snapshot_only and now_ms - self.last_push_ms >= LEVEL1_REPUSH_MS:
                self.last_push_ms = now_ms
                return [self.snapshot_frame(now_ms)]
            return []
        self.u += 1 + self.skip
        self.skip = 0
        self.bids, self.asks = bids, asks
        self.seq, self.cts, self.last_push_ms = m.seq, m.now, now_ms
        if self.snapshot_only:
            return [self.snapshot_frame(now_ms)]
        inst = m.inst
        return [self._frame(
            "delta", now_ms,
            [[inst.px(p), inst.qty(s)] for p, s in sorted(db.items(), reverse=True)],
            [[inst.px(p), inst.qty(s)] for p, s in sorted(da.items())],
        )]

    def published(self) -> tuple[int, Levels, Levels]:
        """``(u, bids, asks)`` exactly as last pushed, best first, as floats."""
        inst = self.market.inst
        return (
            self.u,
            [(inst.pxf(p), inst.qtyf(self.bids[p])) for p in sorted(self.bids, reverse=True)],
            [(inst.pxf(p), inst.qtyf(self.asks[p])) for p in sorted(self.asks)],
        )


def _diff(old: dict[int, int], new: dict[int, int]) -> dict[int, int]:
    out = {p: s for p, s in new.items() if old.get(p) != s}
    for p in old:
        if p not in new:
            out[p] = 0
    return out


class V3BookFeed(BookFeed):
    """Legacy spot v3 ``orderbook.40.{symbol}``: a snapshot every 100 ms when it changed."""

    def __init__(self, topic: str, market: Market) -> None:
        super().__init__(topic, "spot_v3_public", market, 40)
        self.period_ms = 100
        self.snapshot_only = True

    def snapshot_frame(self, now_ms: int) -> str:
        data = {"s": self.market.inst.symbol, "t": self.cts, "b": self._levels(self.bids, True),
                "a": self._levels(self.asks, False)}
        return dumps({"topic": self.topic, "type": "snapshot", "ts": now_ms, "data": data})


class BookTickerFeed(Feed):
    """Legacy spot v3 ``bookticker.{symbol}``: best bid and ask every 100 ms when they changed."""

    order = 1
    period_ms = 100

    def __init__(self, topic: str, market: Market) -> None:
        super().__init__(topic, "spot_v3_public")
        self.market = market
        self.last: tuple[tuple[int, int], ...] = ()

    def _frame(self, now_ms: int) -> str:
        inst, book = self.market.inst, self.market.book
        (bp, bq), (ap, aq) = (book.top("Buy", 1) or [(0, 0)])[0], (book.top("Sell", 1) or [(0, 0)])[0]
        self.last = ((bp, bq), (ap, aq))
        data = {"s": inst.symbol, "bp": inst.px(bp), "bq": inst.qty(bq), "ap": inst.px(ap), "aq": inst.qty(aq),
                "t": self.market.now}
        return dumps({"topic": self.topic, "type": "snapshot", "ts": now_ms, "data": data})

    def on_subscribe(self, now_ms: int) -> list[str]:
        return [self._frame(now_ms)]

    def tick(self, now_ms: int) -> list[str]:
        book = self.market.book
        cur = tuple((book.top("Buy", 1) or [(0, 0)]) + (book.top("Sell", 1) or [(0, 0)]))
        return [] if cur == self.last else [self._frame(now_ms)]


# ---------------------------------------------------------------------------------- trades


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

    def _row(self, m: Market, t: PublicTrade) -> dict[str, Any]:
        inst = m.inst
        row: dict[str, Any] = {"T": t.ts, "s": inst.symbol, "S": t.side, "v": inst.qty(t.qty), "p": inst.px(t.price)}
        if inst.category != "spot":
            row["L"] = t.direction
        row.update({"i": t.trade_id, "BT": False, "RPI": False, "seq": t.seq})
        if inst.category == "option":
            mark = m.mid() or t.price
            under = self.underlying(inst.base) if self.underlying else 0.0
            row.update({"mP": inst.px(mark), "iP": f"{under:.2f}", "mIv": "0.5123", "iv": "0.5061"})
        return row

    def tick(self, now_ms: int) -> list[str]:
        trades = self._new_trades()
        if not trades:
            return []
        frames = []
        for i in range(0, len(trades), TRADES_PER_MESSAGE):
            rows = [self._row(m, t) for m, t in trades[i : i + TRADES_PER_MESSAGE]]
            if self.endpoint == "option":
                frames.append(dumps({"id": f"{self.topic}-{trades[i][1].seq}-{now_ms}", "topic": self.topic,
                                     "ts": now_ms, "data": rows, "type": "snapshot"}))
            else:
                frames.append(dumps({"topic": self.topic, "type": "snapshot", "ts": now_ms, "data": rows}))
        return frames


class V3TradeFeed(TradeFeed):
    """Legacy spot v3 ``trade.{symbol}``: one frame per trade, ``data`` an object."""

    def tick(self, now_ms: int) -> list[str]:
        out = []
        for m, t in self._new_trades():
            inst = m.inst
            data = {"v": t.trade_id, "t": t.ts, "p": inst.px(t.price), "q": inst.qty(t.qty), "m": t.side == "Buy",
                    "type": "0"}
            out.append(dumps({"topic": self.topic, "type": "snapshot", "ts": now_ms, "data": data}))
        return out


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
        inst = m.inst
        rows = [{"T": e.ts, "s": inst.symbol, "S": e.side, "v": inst.qty(e.qty), "p": inst.px(e.price)}
                for e in m.liquidations if e.n > self.cursor]
        self.cursor = m.liquidation_count
        return [dumps({"topic": self.topic, "type": "snapshot", "ts": now_ms, "data": rows})]


# ---------------------------------------------------------------------------------- klines


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

    def _row(self, c: Candle, now_ms: int) -> dict[str, Any]:
        inst = self.market.inst
        return {"start": c.start, "end": c.end, "interval": c.interval, "open": inst.px(c.open),
                "close": inst.px(c.close), "high": inst.px(c.high), "low": inst.px(c.low),
                "volume": inst.qty(c.volume), "turnover": _num(c.turnover), "confirm": c.confirm,
                "timestamp": c.last_ts if c.confirm else now_ms}

    def _frame(self, c: Candle, now_ms: int) -> str:
        return dumps({"topic": self.topic, "type": "snapshot", "ts": now_ms, "data": [self._row(c, now_ms)]})

    def on_subscribe(self, now_ms: int) -> list[str]:
        self.market.set_time(now_ms)
        return [self._frame(self.series.current, now_ms)]

    def tick(self, now_ms: int) -> list[str]:
        s = self.series
        self.market.set_time(now_ms)
        frames: list[str] = []
        if s.closed_count > self.closed_cursor:
            n = min(s.closed_count - self.closed_cursor, len(s.closed))
            frames.extend(self._frame(c, now_ms) for c in list(s.closed)[-n:])
            self.closed_cursor = s.closed_count
        if s.version != self.version:
            self.version = s.version
            frames.append(self._frame(s.current, now_ms))
        return frames


class V3KlineFeed(KlineFeed):
    """Legacy spot v3 ``kline.{1m..1M}.{symbol}``: ``data`` is one object with letter keys."""

    def _frame(self, c: Candle, now_ms: int) -> str:
        inst = self.market.inst
        data = {"t": c.start, "s": inst.symbol, "c": inst.px(c.close), "h": inst.px(c.high), "l": inst.px(c.low),
                "o": inst.px(c.open), "v": inst.qty(c.volume)}
        return dumps({"topic": self.topic, "type": "snapshot", "ts": now_ms, "data": data})


def _num(x: float, places: int = 4) -> str:
    text = f"{x:.{places}f}".rstrip("0").rstrip(".")
    return text or "0"


# ---------------------------------------------------------------------------------- tickers


def _pct(last: int, prev: int) -> str:
    return f"{(last - prev) / prev:.6f}" if prev else "0"


def _next_funding(now_ms: int) -> str:
    eight_h = 8 * 3_600_000
    return str((now_ms // eight_h + 1) * eight_h)


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
            return {
                "symbol": inst.symbol, "lastPrice": inst.px(st.last_price), "highPrice24h": inst.px(st.high),
                "lowPrice24h": inst.px(st.low), "prevPrice24h": inst.px(st.prev_price_24h),
                "volume24h": f"{st.volume:.{inst.qty_dec}f}", "turnover24h": f"{st.turnover:.8f}",
                "price24hPcnt": f"{(st.last_price - st.prev_price_24h) / st.prev_price_24h:.4f}",
                "usdIndexPrice": inst.px(mid) if inst.quote in ("USDT", "USDC") else "",
            }
        (bp, bq), (ap, aq) = (book.top("Buy", 1) or [(0, 0)])[0], (book.top("Sell", 1) or [(0, 0)])[0]
        if self.endpoint == "option":
            return self._option_fields(mid, bp, bq, ap, aq)
        index = mid + st.index_offset
        return {
            "symbol": inst.symbol, "tickDirection": st.direction,
            "price24hPcnt": _pct(st.last_price, st.prev_price_24h), "lastPrice": inst.px(st.last_price),
            "prevPrice24h": inst.px(st.prev_price_24h), "highPrice24h": inst.px(st.high),
            "lowPrice24h": inst.px(st.low), "prevPrice1h": inst.px(st.prev_price_1h), "markPrice": inst.px(mid),
            "indexPrice": inst.px(index), "openInterest": f"{st.open_interest:.3f}",
            "openInterestValue": f"{st.open_interest * inst.pxf(mid):.2f}",
            "turnover24h": f"{st.turnover:.4f}", "volume24h": f"{st.volume:.4f}",
            "nextFundingTime": _next_funding(now_ms), "fundingRate": st.funding_rate,
            "bid1Price": inst.px(bp), "bid1Size": inst.qty(bq), "ask1Price": inst.px(ap), "ask1Size": inst.qty(aq),
            "fundingIntervalHour": "8", "fundingCap": "0.005",
            "preOpenPrice": "", "preQty": "", "curPreListingPhase": "",
        }

    def _option_fields(self, mid: int, bp: int, bq: int, ap: int, aq: int) -> dict[str, str]:
        m = self.market
        inst, st = m.inst, m.stats
        under = self.underlying(inst.base) if self.underlying else inst.strike
        x = (under - inst.strike) / (0.05 * max(under, 1e-9))
        delta = 0.5 + 0.5 * math.tanh(x) - (1.0 if inst.option_type == "Put" else 0.0)
        gamma = 0.5 * (1 - math.tanh(x) ** 2) / (0.05 * max(under, 1e-9))
        return {
            "symbol": inst.symbol, "bidPrice": inst.px(bp), "bidSize": inst.qty(bq), "bidIv": "0.4980",
            "askPrice": inst.px(ap), "askSize": inst.qty(aq), "askIv": "0.5210", "lastPrice": inst.px(st.last_price),
            "highPrice24h": inst.px(st.high), "lowPrice24h": inst.px(st.low), "markPrice": inst.px(mid),
            "indexPrice": f"{under:.2f}", "markPriceIv": "0.5095", "underlyingPrice": f"{under:.2f}",
            "openInterest": f"{st.open_interest:.2f}", "turnover24h": f"{st.turnover:.4f}",
            "volume24h": f"{st.volume:.2f}", "totalVolume": f"{st.volume * 7:.0f}",
            "totalTurnover": f"{st.turnover * 7:.0f}", "delta": f"{delta:.8f}", "gamma": f"{gamma:.8f}",
            "vega": f"{inst.ref_price * 0.01:.8f}", "theta": f"{-inst.ref_price * 0.02:.8f}",
            "predictedDeliveryPrice": "0", "change24h": _pct(st.last_price, st.prev_price_24h),
        }

    def activate(self, now_ms: int) -> None:
        self.state = self.fields(now_ms)

    def _snapshot(self, now_ms: int, data: dict[str, str]) -> str:
        m = self.market
        if self.endpoint == "spot":
            return dumps({"topic": self.topic, "ts": now_ms, "type": "snapshot", "cs": m.seq, "data": data})
        if self.endpoint == "option":
            return dumps({"id": f"{self.topic}-{m.seq}-{now_ms}", "topic": self.topic, "type": "snapshot",
                          "data": data, "ts": now_ms})
        return dumps({"topic": self.topic, "type": "snapshot", "data": data, "cs": m.seq, "ts": now_ms})

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
            return [dumps({"topic": self.topic, "type": "delta", "data": data, "cs": self.market.seq, "ts": now_ms})]
        return [self._snapshot(now_ms, cur)]


class V3TickerFeed(TickerFeed):
    """Legacy spot v3 ``tickers.{symbol}``: 24 h statistics with letter keys, on every change."""

    def __init__(self, topic: str, market: Market) -> None:
        super().__init__(topic, "spot_v3_public", market)
        self.period_ms = 100

    def fields(self, now_ms: int) -> dict[str, str]:
        st, inst = self.market.stats, self.market.inst
        return {"s": inst.symbol, "o": inst.px(st.prev_price_24h), "h": inst.px(st.high), "l": inst.px(st.low),
                "c": inst.px(st.last_price), "v": f"{st.volume:.{inst.qty_dec}f}", "qv": f"{st.turnover:.8f}",
                "m": f"{(st.last_price - st.prev_price_24h) / st.prev_price_24h:.4f}", "xp": ""}

    def _snapshot(self, now_ms: int, data: dict[str, str]) -> str:
        return dumps({"topic": self.topic, "type": "snapshot", "ts": now_ms, "data": {"t": now_ms, **data}})

    def tick(self, now_ms: int) -> list[str]:
        cur = self.fields(now_ms)
        if cur == self.state:
            return []
        self.state = cur
        return [self._snapshot(now_ms, cur)]


# ---------------------------------------------------------------------------------- registry


class UnknownTopic(ValueError):
    """The topic does not exist on this socket (Bybit: ``handler not found``)."""


def make_feed(topic: Topic, markets: dict[str, Market], option_markets: Iterable[Market],
              underlying: Callable[[str], float]) -> Feed:
    """Create the feed for a parsed, validated topic, or raise :class:`UnknownTopic`."""
    ep = topic.endpoint
    if topic.kind == "publicTrade" and ep == "option":
        chosen = [m for m in option_markets if m.inst.base == topic.symbol]
        if not chosen:
            raise UnknownTopic(topic.name)
        return TradeFeed(topic.name, ep, chosen, underlying)
    market = markets.get(topic.symbol or "")
    if market is None:
        raise UnknownTopic(topic.name)
    if ep == "spot_v3_public":
        if topic.kind == "orderbook":
            return V3BookFeed(topic.name, market)
        if topic.kind == "trade":
            return V3TradeFeed(topic.name, ep, [market])
        if topic.kind == "kline":
            return V3KlineFeed(topic.name, ep, market, V3_KLINE_TO_V5[topic.interval or "1m"])
        if topic.kind == "tickers":
            return V3TickerFeed(topic.name, market)
        if topic.kind == "bookticker":
            return BookTickerFeed(topic.name, market)
        raise UnknownTopic(topic.name)
    if topic.kind == "orderbook":
        return BookFeed(topic.name, ep, market, topic.depth or 1)
    if topic.kind == "publicTrade":
        return TradeFeed(topic.name, ep, [market])
    if topic.kind == "tickers":
        return TickerFeed(topic.name, ep, market, underlying)
    if topic.kind == "kline":
        return KlineFeed(topic.name, ep, market, topic.interval or "1")
    if topic.kind == "allLiquidation":
        return LiquidationFeed(topic.name, ep, market)
    raise UnknownTopic(topic.name)


def instrument_of(feed: Feed) -> Instrument | None:
    """The instrument a single-market feed serves (None for multi-market feeds)."""
    market = getattr(feed, "market", None)
    return market.inst if isinstance(market, Market) else None

