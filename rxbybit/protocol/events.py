"""Typed events: what one frame from Bybit means.

Market-data numbers are floats; private/account values that may go back to the exchange stay
exact strings (the ``raw`` mapping of private items keeps every field as Bybit sent it).
Timestamps are exchange epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from .replies import is_already_subscribed

Level = tuple[float, float]
"""One price level: ``(price, size)``."""


class Event:
    """Base of every decoded event (a frozen, slotted dataclass, or a frozen struct on the hot paths)."""

    __slots__ = ()


# --------------------------------------------------------------------------- market data


class BookUpdate(msgspec.Struct, Event, frozen=True, gc=False):
    """An ``orderbook.{depth}.{symbol}`` push (V5) or ``orderbook.40`` (spot v3, always snapshot).

    A frozen ``msgspec.Struct`` rather than a dataclass: book frames are the hottest path and a
    struct is built in C several times faster (``gc=False``: it holds only strings, numbers and
    lists of float pairs, so it can never be part of a reference cycle the collector must find).
    """

    topic: str
    symbol: str
    depth: int
    snapshot: bool
    ts: int
    u: int
    seq: int
    bids: list[Level]
    asks: list[Level]
    cts: int = 0


@dataclass(frozen=True, slots=True)
class Trade:
    """One public trade. ``side`` is the taker's side (``Buy``/``Sell``)."""

    ts: int
    symbol: str
    side: str
    price: float
    size: float
    trade_id: str
    tick_direction: str = ""
    block_trade: bool = False
    seq: int = 0


@dataclass(slots=True)
class _TradeDraft:
    """Mutable twin of :class:`Trade` (same slots, same order), used only to build one fast."""

    ts: int
    symbol: str
    side: str
    price: float
    size: float
    trade_id: str
    tick_direction: str = ""
    block_trade: bool = False
    seq: int = 0


def new_trade(
    ts: int, symbol: str, side: str, price: float, size: float, trade_id: str,
    tick_direction: str = "", block_trade: bool = False, seq: int = 0,
) -> Trade:
    """Build a :class:`Trade` about three times faster than its frozen ``__init__``.

    Trades come by the thousand: the mutable twin is filled with plain slot stores, then handed
    the frozen class (same layout), so the result is an ordinary frozen ``Trade``.
    """
    obj = _TradeDraft(ts, symbol, side, price, size, trade_id, tick_direction, block_trade, seq)
    obj.__class__ = Trade  # type: ignore[assignment]
    return obj  # type: ignore[return-value]


class Trades(msgspec.Struct, Event, frozen=True, gc=False):
    """A ``publicTrade`` push (may carry up to 1024 trades) or a spot v3 ``trade`` push.

    A frozen struct, built in C (a hot path); ``gc=False``: it holds only a tuple of trades.
    """

    topic: str
    ts: int
    trades: tuple[Trade, ...]


class TickerUpdate(msgspec.Struct, Event, frozen=True):
    """A ``tickers`` push. For linear/inverse deltas, ``fields`` holds only what changed.

    Values are floats where numeric, the original string otherwise (``None`` for ``""``).
    Merge deltas with :class:`rxbybit.protocol.TickerState`. A frozen struct, built in C.
    """

    topic: str
    symbol: str
    snapshot: bool
    ts: int
    cs: int
    fields: Mapping[str, float | str | None]


@dataclass(frozen=True, slots=True)
class Candle:
    """One kline. ``confirm`` is True once the candle is closed (final)."""

    start: int
    end: int
    interval: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    turnover: float
    confirm: bool
    timestamp: int


@dataclass(frozen=True, slots=True)
class Klines(Event):
    """A ``kline`` push (V5: a list of candles; spot v3: one candle, never confirmed)."""

    topic: str
    symbol: str
    interval: str
    ts: int
    candles: tuple[Candle, ...]


@dataclass(frozen=True, slots=True)
class Liquidation:
    """One liquidation. ``side`` is the liquidated *position's* side (Buy = a long)."""

    ts: int
    symbol: str
    side: str
    size: float
    price: float


@dataclass(frozen=True, slots=True)
class Liquidations(Event):
    """An ``allLiquidation`` push (or the deprecated single-item ``liquidation`` push)."""

    topic: str
    ts: int
    liquidations: tuple[Liquidation, ...]


@dataclass(frozen=True, slots=True)
class BookTicker(Event):
    """Spot v3 ``bookticker``: best bid and ask."""

    topic: str
    symbol: str
    ts: int
    bid_price: float
    bid_size: float
    ask_price: float
    ask_size: float


# --------------------------------------------------------------------------- private

PrivateKind = Literal[
    "order", "execution", "execution.fast", "position", "wallet", "greeks", "dcp", "strategy",
    "outboundAccountInfo", "stopOrder", "ticketInfo",
]


class PrivateUpdate(msgspec.Struct, Event, frozen=True):
    """A private push: ``items`` are the ``data`` list, every value exactly as Bybit sent it.

    ``kind`` names the family (``order`` for ``order.linear`` too); ``legacy`` is True for the
    spot v3 private stream (``order`` there carries letter fields such as ``X`` for status).
    A frozen struct, built in C.
    """

    topic: str
    kind: PrivateKind
    id: str
    creation_time: int
    items: tuple[Mapping[str, Any], ...]
    legacy: bool = False


# --------------------------------------------------------------------------- control


@dataclass(frozen=True, slots=True)
class Pong(Event):
    """A heartbeat reply, whatever the endpoint's shape. ``server_ts`` when the reply has one."""

    server_ts: int | None = None
    req_id: str | None = None
    conn_id: str | None = None


@dataclass(frozen=True, slots=True)
class SubscribeAck(Event):
    """A successful (un)subscribe reply. Option sockets list topics in ``success_topics``."""

    op: str
    req_id: str | None = None
    conn_id: str | None = None
    success_topics: tuple[str, ...] = ()
    fail_topics: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SubscribeFailure(Event):
    """A failed (un)subscribe. ``topic`` is the topic Bybit names (``None`` if it names none).

    ``already_subscribed`` failures are informational: the subscription keeps delivering.
    """

    op: str
    message: str
    topic: str | None = None
    req_id: str | None = None
    conn_id: str | None = None

    @property
    def already_subscribed(self) -> bool:
        """True for ``error:already subscribed`` (not a real failure)."""
        return is_already_subscribed(self.message)


@dataclass(frozen=True, slots=True)
class AuthResult(Event):
    """Reply to ``auth`` on the private socket (``success``/``ret_msg``) or trade socket
    (``retCode``/``retMsg``)."""

    success: bool
    message: str
    ret_code: int | None = None
    req_id: str | None = None
    conn_id: str | None = None


@dataclass(frozen=True, slots=True)
class TradeResponse(Event):
    """A WS trade API reply, correlated by ``req_id``. ``ret_code == 0`` only means accepted."""

    req_id: str | None
    op: str
    ret_code: int
    ret_msg: str
    data: Mapping[str, Any]
    ret_ext_info: Mapping[str, Any]
    header: Mapping[str, str]
    conn_id: str | None = None

    @property
    def ok(self) -> bool:
        """True when ``ret_code`` is 0."""
        return self.ret_code == 0

    @property
    def rate_limit(self) -> int | None:
        """``X-Bapi-Limit``: requests allowed per second for this op."""
        return _int_or_none(self.header.get("X-Bapi-Limit"))

    @property
    def rate_limit_remaining(self) -> int | None:
        """``X-Bapi-Limit-Status``: requests left in the current window."""
        return _int_or_none(self.header.get("X-Bapi-Limit-Status"))

    @property
    def rate_limit_reset_ms(self) -> int | None:
        """``X-Bapi-Limit-Reset-Timestamp``: when the window resets (epoch ms)."""
        return _int_or_none(self.header.get("X-Bapi-Limit-Reset-Timestamp"))

    def __repr__(self) -> str:  # short, like OrderAck's: never the headers
        outcome = "ok" if self.ok else f"ret_code={self.ret_code} {self.ret_msg!r}"
        ids = "".join(f" {name}={self.data[key]!r}" for key, name in (("orderId", "order_id"),
                      ("orderLinkId", "order_link_id")) if isinstance(self.data, Mapping) and self.data.get(key))
        limit = "" if self.rate_limit_remaining is None else f" limit_left={self.rate_limit_remaining}"
        return f"TradeResponse({self.op} req_id={self.req_id!r} {outcome}{ids}{limit})"


@dataclass(frozen=True, slots=True)
class ServerError(Event):
    """An error reply that belongs to no request kind above (bad JSON sent, invalid op, v3
    ``type: error``)."""

    message: str
    code: int | None = None
    raw: str = ""


@dataclass(frozen=True, slots=True)
class Unknown(Event):
    """A frame that parsed as JSON but matches no known shape. ``raw`` is the original text."""

    raw: str
    reason: str = "unrecognised frame"


@dataclass(frozen=True, slots=True)
class Malformed(Event):
    """A frame that could not be decoded (not JSON, or a known topic with broken fields)."""

    raw: str
    error: str
    topic: str | None = field(default=None)


def _int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return None
