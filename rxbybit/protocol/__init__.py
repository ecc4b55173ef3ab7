"""Sans-I/O Bybit protocol: topics, request frames, signing, decoding, order books, tickers.

Nothing here does I/O or imports asyncio, reactivex or sockets, so every exchange rule can be
used with any transport and tested with plain frames::

    from rxbybit import protocol
    book = protocol.OrderBook()
    for frame in frames:
        event = protocol.decode(frame)
        if isinstance(event, protocol.BookUpdate):
            book.apply(event)
"""

from . import clock, endpoints, limits, replies, requests, rest, subscriptions, topics
from .book import Applied, BookView, OrderBook
from .decode import decode
from .events import (
    AuthResult,
    BookTicker,
    BookUpdate,
    Candle,
    Event,
    Klines,
    Level,
    Liquidation,
    Liquidations,
    Malformed,
    Pong,
    PrivateUpdate,
    ServerError,
    SubscribeAck,
    SubscribeFailure,
    TickerUpdate,
    Trade,
    TradeResponse,
    Trades,
    Unknown,
)
from .instruments import InstrumentInfo
from .orders import OrderStatus
from .signing import Credentials, sign, verify
from .subscriptions import Subscriptions
from .ticker import Ticker, TickerState
from .topics import Category, Endpoint, Topic

__all__ = [
    "Applied",
    "AuthResult",
    "BookTicker",
    "BookUpdate",
    "BookView",
    "Candle",
    "Category",
    "Credentials",
    "Endpoint",
    "Event",
    "InstrumentInfo",
    "Klines",
    "Level",
    "Liquidation",
    "Liquidations",
    "Malformed",
    "OrderBook",
    "OrderStatus",
    "Pong",
    "PrivateUpdate",
    "ServerError",
    "SubscribeAck",
    "SubscribeFailure",
    "Subscriptions",
    "Ticker",
    "TickerState",
    "TickerUpdate",
    "Topic",
    "Trade",
    "TradeResponse",
    "Trades",
    "Unknown",
    "clock",
    "decode",
    "endpoints",
    "limits",
    "replies",
    "requests",
    "rest",
    "sign",
    "subscriptions",
    "topics",
    "verify",
]
