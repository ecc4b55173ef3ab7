"""Public feeds: one publisher per subscribed topic, shared by every connection that subscribed it.

A feed turns the market model into Bybit frames (shaped by :mod:`..pushes`) at the topic's
documented cadence (virtual milliseconds; the clock scales them by ``speed``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from ...protocol.topics import V3_KLINE_TO_V5, Topic
from ..market import Market
from .base import Feed, Sink, UnknownTopic
from .books import LEVEL1_REPUSH_MS, BookFeed, BookTickerFeed, V3BookFeed
from .stats import KlineFeed, TickerFeed, V3KlineFeed, V3TickerFeed
from .trades import LiquidationFeed, TradeFeed, V3TradeFeed

__all__ = [
    "LEVEL1_REPUSH_MS",
    "BookFeed",
    "BookTickerFeed",
    "Feed",
    "KlineFeed",
    "LiquidationFeed",
    "Sink",
    "TickerFeed",
    "TradeFeed",
    "UnknownTopic",
    "V3BookFeed",
    "V3KlineFeed",
    "V3TickerFeed",
    "V3TradeFeed",
    "make_feed",
]


def make_feed(topic: Topic, markets: Mapping[str, Market], option_markets: Iterable[Market],
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
        return _v3_feed(topic, market)
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


def _v3_feed(topic: Topic, market: Market) -> Feed:
    if topic.kind == "orderbook":
        return V3BookFeed(topic.name, market)
    if topic.kind == "trade":
        return V3TradeFeed(topic.name, "spot_v3_public", [market])
    if topic.kind == "kline":
        return V3KlineFeed(topic.name, "spot_v3_public", market, V3_KLINE_TO_V5[topic.interval or "1m"])
    if topic.kind == "tickers":
        return V3TickerFeed(topic.name, market)
    if topic.kind == "bookticker":
        return BookTickerFeed(topic.name, market)
    raise UnknownTopic(topic.name)
