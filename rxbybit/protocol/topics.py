"""Topic grammar: build, parse and validate Bybit topic strings, and map them to endpoints.

Every rule about which topic exists on which socket lives here. Bad input raises
:class:`ValueError` naming what was wrong and the values that are allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from .endpoints import CATEGORIES as CATEGORIES  # re-exported: the topic grammar speaks of both
from .endpoints import ENDPOINT_PATHS as ENDPOINT_PATHS
from .endpoints import ENDPOINTS as ENDPOINTS
from .endpoints import Category as Category
from .endpoints import Endpoint as Endpoint
from .endpoints import validate_category as validate_category

BOOK_DEPTHS: Final[dict[Category, tuple[int, ...]]] = {
    "spot": (1, 50, 200, 1000),
    "linear": (1, 50, 200, 1000),
    "inverse": (1, 50, 200, 1000),
    "option": (25, 100),
}
"""Order book depths each category serves (futures depth 500 was removed in 2025-09)."""

BOOK_PUSH_MS: Final[dict[int, int]] = {1: 10, 25: 20, 50: 20, 100: 100, 200: 100, 1000: 200}
"""Documented push interval of each order book depth, in milliseconds."""

KLINE_INTERVALS: Final[tuple[str, ...]] = (
    "1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M",
)
KLINE_INTERVAL_MS: Final[dict[str, int]] = {
    **{i: int(i) * 60_000 for i in KLINE_INTERVALS if i.isdigit()},
    "D": 86_400_000,
    "W": 7 * 86_400_000,
    "M": 30 * 86_400_000,
}
"""Nominal length of each kline interval (a month is taken as 30 days)."""

V3_KLINE_TO_V5: Final[dict[str, str]] = {
    "1m": "1", "3m": "3", "5m": "5", "15m": "15", "30m": "30", "1h": "60", "2h": "120", "4h": "240",
    "6h": "360", "12h": "720", "1d": "D", "1w": "W", "1M": "M",
}
"""Legacy spot v3 kline interval names and the V5 interval each one is."""
V3_KLINE_INTERVALS: Final[tuple[str, ...]] = tuple(V3_KLINE_TO_V5)

PRIVATE_TOPICS: Final[tuple[str, ...]] = (
    "order", "order.spot", "order.linear", "order.inverse", "order.option",
    "execution", "execution.spot", "execution.linear", "execution.inverse", "execution.option",
    "execution.fast", "execution.fast.spot", "execution.fast.linear", "execution.fast.inverse",
    "execution.fast.option",
    "position", "position.linear", "position.inverse", "position.option",
    "wallet", "greeks", "dcp.future", "dcp.spot", "dcp.option", "strategy",
)
"""Every V5 private topic name (private topics take no symbol)."""

V3_PRIVATE_TOPICS: Final[tuple[str, ...]] = ("outboundAccountInfo", "order", "stopOrder", "ticketInfo")

CATEGORISED_FAMILIES: Final[tuple[str, ...]] = ("execution.fast", "execution", "order", "position")
"""Private topic families that come all-in-one (``order``) and per category (``order.linear``)."""


def private_family(topic: str) -> str:
    """The family of a V5 private topic: ``execution.fast.linear`` -> ``execution.fast``; others as given."""
    for fam in CATEGORISED_FAMILIES:  # longest first: execution.fast before execution
        if topic == fam or topic.startswith(fam + "."):
            return fam
    return topic


def may_share_request(a: str, b: str) -> bool:
    """False when ``a`` and ``b`` are an all-in-one private topic and one of its categorised topics:
    Bybit rejects such a pair in one subscribe request."""
    fam = private_family(a)
    if fam != private_family(b) or fam not in CATEGORISED_FAMILIES or a == b:
        return True
    return fam not in (a, b)


def sharing_conflict(topics: Iterable[str]) -> tuple[str, str] | None:
    """The first ``(all_in_one, categorised)`` pair in ``topics`` that may not share a request."""
    seen = list(topics)
    for fam in CATEGORISED_FAMILIES:
        if fam in seen:
            others = sorted(t for t in seen if t != fam and private_family(t) == fam)
            if others:
                return fam, others[0]
    return None

TopicKind = Literal[
    "orderbook", "publicTrade", "tickers", "kline", "allLiquidation", "liquidation", "private",
    "trade", "bookticker",
]

_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,60}$")
_COIN = re.compile(r"^[A-Z0-9]{2,20}$")



def validate_symbol(symbol: str) -> str:
    """Return ``symbol`` if it is a well-formed (upper-case) Bybit symbol, else raise."""
    if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
        hint = " (symbols are upper-case, e.g. 'BTCUSDT')" if isinstance(symbol, str) else ""
        raise ValueError(f"invalid symbol {symbol!r}{hint}")
    return symbol


def validate_depth(depth: int, category: Category) -> int:
    """Return ``depth`` if ``category`` serves it, else raise naming the allowed depths."""
    allowed = BOOK_DEPTHS[validate_category(category)]
    if depth not in allowed:
        raise ValueError(
            f"order book depth {depth!r} is not served for {category}; "
            f"expected one of {', '.join(map(str, allowed))}"
        )
    return depth


def validate_interval(interval: str | int) -> str:
    """Return the kline interval as Bybit spells it, else raise naming the allowed values."""
    text = str(interval)
    if text not in KLINE_INTERVALS:
        raise ValueError(
            f"unknown kline interval {interval!r}; expected one of {', '.join(KLINE_INTERVALS)}"
        )
    return text


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic: what it streams, for which symbol, and on which endpoint."""

    name: str
    """The topic string exactly as sent to Bybit."""
    kind: TopicKind
    endpoint: Endpoint
    symbol: str | None = None
    depth: int | None = None
    interval: str | None = None

    @property
    def path(self) -> str:
        """The URL path of the socket that serves this topic."""
        return ENDPOINT_PATHS[self.endpoint]


def orderbook(symbol: str, depth: int, category: Category) -> Topic:
    """The ``orderbook.{depth}.{symbol}`` topic, validated for ``category``."""
    validate_depth(depth, category)
    validate_symbol(symbol)
    return Topic(f"orderbook.{depth}.{symbol}", "orderbook", category, symbol, depth)


def public_trade(symbol: str, category: Category) -> Topic:
    """The ``publicTrade`` topic; options stream trades by base coin (``publicTrade.BTC``)."""
    validate_category(category)
    if category == "option":
        coin = symbol.split("-")[0]
        if not _COIN.match(coin):
            raise ValueError(f"invalid option base coin {coin!r} (e.g. 'BTC')")
        return Topic(f"publicTrade.{coin}", "publicTrade", category, coin)
    validate_symbol(symbol)
    return Topic(f"publicTrade.{symbol}", "publicTrade", category, symbol)


def tickers(symbol: str, category: Category) -> Topic:
    """The ``tickers.{symbol}`` topic."""
    validate_category(category)
    validate_symbol(symbol)
    return Topic(f"tickers.{symbol}", "tickers", category, symbol)


def kline(symbol: str, interval: str | int, category: Category) -> Topic:
    """The ``kline.{interval}.{symbol}`` topic (not served for options)."""
    validate_category(category)
    if category == "option":
        raise ValueError("klines are not streamed for category 'option'; use spot, linear or inverse")
    text = validate_interval(interval)
    validate_symbol(symbol)
    return Topic(f"kline.{text}.{symbol}", "kline", category, symbol, interval=text)


def all_liquidation(symbol: str, category: Category) -> Topic:
    """The ``allLiquidation.{symbol}`` topic (linear and inverse only)."""
    validate_category(category)
    if category not in ("linear", "inverse"):
        raise ValueError(
            f"liquidations are streamed for linear and inverse only, not {category!r}"
        )
    validate_symbol(symbol)
    return Topic(f"allLiquidation.{symbol}", "allLiquidation", category, symbol)


def private(name: str) -> Topic:
    """A V5 private topic such as ``order`` or ``execution.fast.linear``."""
    if name not in PRIVATE_TOPICS:
        raise ValueError(f"unknown private topic {name!r}; expected one of {', '.join(PRIVATE_TOPICS)}")
    return Topic(name, "private", "private")


def parse(topic: str, endpoint: Endpoint) -> Topic:
    """Parse and validate a topic string for the socket ``endpoint`` it is sent on.

    Raises ``ValueError`` when the topic is malformed or that socket does not serve it (the
    cases Bybit answers with ``handler not found``).
    """
    if not isinstance(topic, str) or not topic:
        raise ValueError(f"topic must be a non-empty string, got {topic!r}")
    if endpoint == "private":
        return private(topic)
    if endpoint == "spot_v3_private":
        if topic not in V3_PRIVATE_TOPICS:
            raise ValueError(
                f"unknown spot v3 private topic {topic!r}; expected one of "
                f"{', '.join(V3_PRIVATE_TOPICS)}"
            )
        return Topic(topic, "private", endpoint)
    if endpoint == "spot_v3_public":
        return _parse_v3_public(topic)
    if endpoint == "trade":
        raise ValueError("the trade endpoint takes order.* requests, not topic subscriptions")
    category = validate_category(endpoint)
    parts = topic.split(".")
    head = parts[0]
    if head == "orderbook" and len(parts) == 3 and parts[1].isdigit():
        return orderbook(parts[2], int(parts[1]), category)
    if head == "publicTrade" and len(parts) == 2:
        if category == "option":
            if not _COIN.match(parts[1]):
                raise ValueError(f"option trades are by base coin, e.g. 'publicTrade.BTC', not {topic!r}")
            return Topic(topic, "publicTrade", category, parts[1])
        return public_trade(parts[1], category)
    if head == "tickers" and len(parts) == 2:
        return tickers(parts[1], category)
    if head == "kline" and len(parts) == 3:
        return kline(parts[2], parts[1], category)
    if head == "allLiquidation" and len(parts) == 2:
        return all_liquidation(parts[1], category)
    raise ValueError(
        f"unknown topic {topic!r} for {category}; expected orderbook.{{depth}}.{{symbol}}, "
        "publicTrade.{symbol}, tickers.{symbol}, kline.{interval}.{symbol} or allLiquidation.{symbol}"
    )


def _parse_v3_public(topic: str) -> Topic:
    parts = topic.split(".")
    head = parts[0]
    if head in ("trade", "tickers", "bookticker") and len(parts) == 2:
        validate_symbol(parts[1])
        kind: TopicKind = "trade" if head == "trade" else head  # type: ignore[assignment]
        return Topic(topic, kind, "spot_v3_public", parts[1])
    if head == "orderbook" and len(parts) == 3:
        if parts[1] != "40":
            raise ValueError(f"spot v3 serves order book depth 40 only, not {parts[1]!r}")
        validate_symbol(parts[2])
        return Topic(topic, "orderbook", "spot_v3_public", parts[2], 40)
    if head == "kline" and len(parts) == 3:
        if parts[1] not in V3_KLINE_INTERVALS:
            raise ValueError(
                f"unknown spot v3 kline interval {parts[1]!r}; expected one of "
                f"{', '.join(V3_KLINE_INTERVALS)}"
            )
        validate_symbol(parts[2])
        return Topic(topic, "kline", "spot_v3_public", parts[2], interval=parts[1])
    raise ValueError(
        f"unknown spot v3 topic {topic!r}; expected trade.{{symbol}}, orderbook.40.{{symbol}}, "
        "kline.{interval}.{symbol}, tickers.{symbol} or bookticker.{symbol}"
    )

