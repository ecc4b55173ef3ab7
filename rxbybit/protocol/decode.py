"""Decoding: one raw frame (``str`` or ``bytes``) becomes one typed :mod:`events` object.

``decode`` never raises: a frame that is not JSON, or a known topic with broken fields, becomes
:class:`Malformed`; a JSON frame of no known shape becomes :class:`Unknown`. Both keep the raw
text so nothing received is lost.

Two paths lead there. The *fast path* lets msgspec parse the frame into a typed wire struct
(numbers that Bybit sends as strings become floats during the parse, in C) and builds the event
from it. It covers the frames that come by the thousand: V5 order books, public trades, tickers
and private pushes. Public pushes put the topic first, so one prefix test of the frame's first
bytes picks the reader and the topic comes out of the parse; private pushes (``id`` first) are
found by peeking for ``"topic"``. Anything the fast path's types do not fit (another shape, a
legacy v3 frame, a broken field) goes to the *general path*: orjson, then a tolerant handler per
topic that knows every variant and names what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec

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
    new_trade,
)
from .json_codec import JSONDecodeError, loads
from .replies import failed_topic
from .topics import V3_PRIVATE_TOPICS

_V3_PRIVATE = frozenset(V3_PRIVATE_TOPICS) - {"order"}  # v3 "order" is told apart by its shape

_PEEK = 256
"""How far into a frame the fast path looks for ``"topic"`` (Bybit puts it first, or after ``id``)."""


def decode(frame: str | bytes | bytearray | memoryview) -> Event:
    """Decode one websocket frame into an event. Never raises."""
    try:
        if type(frame) is str:
            # Public pushes put the topic first: one prefix test picks the family's reader, and
            # the reader takes the topic from msgspec's parse (no peeking, slicing or lookup).
            if frame.startswith('{"topic":"orderbook.'):
                event = _fast_book(frame)
            elif frame.startswith('{"topic":"publicTrade.'):
                event = _fast_trades(frame)
            elif frame.startswith('{"topic":"tickers.'):
                event = _fast_tickers(frame)
            else:
                event = _fast_text(frame)
        elif type(frame) is bytes or type(frame) is bytearray:  # websockets hands frames over as bytearray
            if frame.startswith(b'{"topic":"orderbook.'):
                event = _fast_book(frame)
            elif frame.startswith(b'{"topic":"publicTrade.'):
                event = _fast_trades(frame)
            elif frame.startswith(b'{"topic":"tickers.'):
                event = _fast_tickers(frame)
            else:
                event = _fast_bytes(frame)
        else:
            event = None
    except Exception:  # the fast types did not fit: the general path says what is wrong
        event = None
    return _decode_general(frame) if event is None else event


def _fast_text(frame: str) -> Event | None:
    """The fast path for a text frame; None sends it to the general path."""
    if frame.startswith('{"topic":"'):  # public pushes: the topic comes first
        j = 10
    else:  # private pushes (``id`` first), or spaced JSON
        i = frame.find('"topic"', 0, _PEEK)
        j = frame.find('"', i + 7, i + 12) + 1 if i >= 0 else 0  # the value's opening quote
    k = frame.find('"', j, j + _PEEK)
    if not 0 < j < k:
        return None
    topic = frame[j:k]
    fast = _fast_cache.get(topic)
    if fast is None:
        fast = _fast_for(topic)
    try:
        return fast(frame, topic)
    except Exception:  # the types did not fit: the general path says what is wrong
        return None


def _fast_bytes(frame: bytes | bytearray) -> Event | None:
    """The fast path for a frame as bytes (the client's socket hands over a bytearray)."""
    if frame.startswith(b'{"topic":"'):
        j = 10
    else:
        i = frame.find(b'"topic"', 0, _PEEK)
        j = frame.find(b'"', i + 7, i + 12) + 1 if i >= 0 else 0
    k = frame.find(b'"', j, j + _PEEK)
    if not 0 < j < k:
        return None
    raw_topic = bytes(frame[j:k])
    entry = _fast_bytes_cache.get(raw_topic)
    if entry is None:
        entry = _fast_bytes_for(raw_topic)
    topic, fast = entry
    try:
        return fast(frame, topic)
    except Exception:
        return None


def _decode_general(frame: str | bytes | bytearray | memoryview) -> Event:
    """The tolerant path: orjson, then the handler of the topic's family (or the control frames)."""
    try:
        msg = loads(frame)
    except (JSONDecodeError, TypeError) as exc:
        return Malformed(_text(frame), f"not JSON: {exc}")
    if type(msg) is not dict:
        return Unknown(_text(frame), "not a JSON object")
    topic = msg.get("topic")
    try:
        if topic is not None:
            handler = _handler_cache.get(topic)
            if handler is None:
                if not isinstance(topic, str):
                    return Malformed(_text(frame), f"topic is not a string: {topic!r}")
                handler = _TOPIC_HANDLERS.get(topic.split(".", 1)[0])
                if handler is None:
                    return Unknown(_text(frame), f"unknown topic {topic!r}")
                if len(_handler_cache) >= _CACHE_MAX:
                    _handler_cache.clear()
                _handler_cache[topic] = handler
            return handler(topic, msg)
        return _decode_control(msg, frame)
    except Exception as exc:  # a known shape with broken fields: keep the text, say what broke
        return Malformed(_text(frame), f"{type(exc).__name__}: {exc}", topic if isinstance(topic, str) else None)


_CACHE_MAX = 4096
_handler_cache: dict[object, Callable[[str, dict[str, Any]], Event]] = {}
"""Topic string -> handler, so the hot path skips splitting the topic on every frame."""


def _text(frame: object) -> str:
    if isinstance(frame, str):
        return frame
    if isinstance(frame, (bytes, bytearray, memoryview)):
        return bytes(frame).decode("utf-8", "replace")
    return repr(frame)


def _levels(rows: list[list[str]]) -> list[Level]:
    """``[[price, size, ...], ...]`` as float pairs (RPI rows carry a third column, ignored)."""
    try:
        return [(float(p), float(s)) for p, s in rows]
    except ValueError:  # three-column RPI rows, or a bad number (raised again below, with context)
        pass
    out = []
    for row in rows:
        if not isinstance(row, list) or len(row) < 2:
            raise ValueError(f"order book level {row!r} is not [price, size]")
        try:
            out.append((float(row[0]), float(row[1])))
        except (TypeError, ValueError):
            raise ValueError(f"order book level {row!r} has a non-numeric price or size") from None
    return out


def _int(value: Any, name: str) -> int:
    if type(value) is int:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ValueError(f"{name} must be an integer, got {value!r}")


# --------------------------------------------------------------------------- market topics


def _orderbook(topic: str, msg: dict[str, Any]) -> Event:
    data = msg["data"]
    u = data.get("u")
    if u is None:
        if topic.startswith("orderbook.40."):  # spot v3: snapshot only, no update id
            ts = _int(data.get("t") or msg.get("ts") or 0, "t")
            return BookUpdate(topic, data["s"], 40, True, ts, 0, 0, _levels(data["b"]), _levels(data["a"]), ts)
        raise KeyError("u")
    depth = _depths.get(topic)
    if depth is None:
        depth_text = topic.split(".", 2)[1]
        depth = _depths[topic] = int(depth_text) if depth_text.isdigit() else 0
        if len(_depths) >= _CACHE_MAX:
            _depths.clear()
    kind = msg["type"]
    if kind == "delta":
        snapshot = False
    elif kind == "snapshot":
        snapshot = True
    else:
        raise ValueError(f"order book type must be 'snapshot' or 'delta', got {kind!r}")
    ts = msg["ts"]
    seq = data.get("seq", 0)
    cts = msg.get("cts", 0)
    return BookUpdate(
        topic,
        data["s"],
        depth,
        snapshot,
        ts if type(ts) is int else _int(ts, "ts"),
        u if type(u) is int else _int(u, "u"),
        seq if type(seq) is int else _int(seq, "seq"),
        _levels(data["b"]),
        _levels(data["a"]),
        cts if type(cts) is int else _int(cts, "cts"),
    )


_depths: dict[str, int] = {}


def _public_trade(topic: str, msg: dict[str, Any]) -> Event:
    trades = tuple(
        Trade(
            int(t["T"]), t["s"], t["S"], float(t["p"]), float(t["v"]), str(t["i"]),
            t.get("L", ""), bool(t.get("BT", False)), int(t.get("seq", 0)),
        )
        for t in msg["data"]
    )
    return Trades(topic, int(msg["ts"]), trades)


def _v3_trade(topic: str, msg: dict[str, Any]) -> Event:
    d = msg["data"]
    symbol = topic.split(".", 1)[1]
    side = "Buy" if d["m"] else "Sell"  # m: the buyer is the taker
    trade = Trade(int(d["t"]), symbol, side, float(d["p"]), float(d["q"]), str(d["v"]),
                  block_trade=d.get("type") == "1")
    return Trades(topic, int(msg["ts"]), (trade,))


def _num(value: Any) -> float | str | None:
    if value == "" or value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return str(value)


_TEXT_TICKER_FIELDS = frozenset(("symbol", "tickDirection", "deliveryTime", "curPreListingPhase"))
_V3_TICKER_NAMES = {
    "o": "openPrice", "h": "highPrice24h", "l": "lowPrice24h", "c": "lastPrice", "v": "volume24h",
    "qv": "turnover24h", "m": "price24hPcnt", "xp": "usdIndexPrice",
}


def _tickers(topic: str, msg: dict[str, Any]) -> Event:
    data = msg["data"]
    if "symbol" not in data and "s" in data:  # spot v3 tickers: letter fields, one object
        fields = {_V3_TICKER_NAMES[k]: _num(v) for k, v in data.items() if k in _V3_TICKER_NAMES}
        fields["symbol"] = data["s"]
        return TickerUpdate(topic, data["s"], True, int(msg["ts"]), 0, fields)
    return TickerUpdate(
        topic, data["symbol"], msg.get("type", "snapshot") == "snapshot", int(msg["ts"]),
        int(msg.get("cs", 0)), _ticker_fields(data),
    )


def _ticker_fields(data: dict[str, Any]) -> dict[str, float | str | None]:
    """Ticker values as floats where numeric, text fields as sent, ``""`` as None."""
    fields: dict[str, float | str | None] = {}
    for k, v in data.items():
        if type(v) is str and k not in _TEXT_TICKER_FIELDS:
            if v:
                try:
                    fields[k] = float(v)
                except ValueError:
                    fields[k] = v
            else:
                fields[k] = None
        elif k in _TEXT_TICKER_FIELDS:
            fields[k] = v
        else:
            fields[k] = _num(v)
    return fields


def _kline(topic: str, msg: dict[str, Any]) -> Event:
    _, interval, symbol = topic.split(".", 2)
    data = msg["data"]
    if isinstance(data, dict):  # spot v3: one candle, letter fields, never marked final
        c = Candle(int(data["t"]), 0, interval, float(data["o"]), float(data["h"]),
                   float(data["l"]), float(data["c"]), float(data["v"]), 0.0, False, int(msg["ts"]))
        return Klines(topic, symbol, interval, int(msg["ts"]), (c,))
    candles = tuple(
        Candle(
            int(k["start"]), int(k["end"]), str(k["interval"]), float(k["open"]), float(k["high"]),
            float(k["low"]), float(k["close"]), float(k["volume"]), float(k["turnover"]),
            bool(k["confirm"]), int(k["timestamp"]),
        )
        for k in data
    )
    return Klines(topic, symbol, interval, int(msg["ts"]), candles)


def _all_liquidation(topic: str, msg: dict[str, Any]) -> Event:
    items = tuple(
        Liquidation(int(x["T"]), x["s"], x["S"], float(x["v"]), float(x["p"])) for x in msg["data"]
    )
    return Liquidations(topic, int(msg["ts"]), items)


def _liquidation(topic: str, msg: dict[str, Any]) -> Event:
    d = msg["data"]
    t = int(d.get("updatedTime", d.get("updateTime", 0)))
    item = Liquidation(t, d["symbol"], d["side"], float(d["size"]), float(d["price"]))
    return Liquidations(topic, int(msg["ts"]), (item,))


def _bookticker(topic: str, msg: dict[str, Any]) -> Event:
    d = msg["data"]
    return BookTicker(topic, d["s"], int(d.get("t", msg["ts"])), float(d["bp"]), float(d["bq"]),
                      float(d["ap"]), float(d["aq"]))


# --------------------------------------------------------------------------- private topics


def _private(topic: str, msg: dict[str, Any]) -> Event:
    data = msg["data"]
    items = tuple(data) if isinstance(data, list) else (data,)
    if not all(isinstance(x, dict) for x in items):
        raise TypeError("private data items must be objects")
    head = topic.split(".", 1)[0]
    legacy = topic in _V3_PRIVATE or (
        head == "order" and (isinstance(msg.get("ts"), str) or any("e" in x for x in items))
    )
    if legacy:
        kind = topic
        ts = msg.get("ts", 0)
        return PrivateUpdate(topic, kind, "", int(ts), items, True)  # type: ignore[arg-type]
    if topic.startswith("execution.fast"):
        kind = "execution.fast"
    elif head.startswith("dcp"):
        kind = "dcp"
    else:
        kind = head
    return PrivateUpdate(
        topic, kind, str(msg.get("id", "")), int(msg.get("creationTime", 0)), items  # type: ignore[arg-type]
    )


_TOPIC_HANDLERS: dict[str, Callable[[str, dict[str, Any]], Event]] = {
    "orderbook": _orderbook,
    "publicTrade": _public_trade,
    "trade": _v3_trade,
    "tickers": _tickers,
    "kline": _kline,
    "allLiquidation": _all_liquidation,
    "liquidation": _liquidation,
    "bookticker": _bookticker,
    "order": _private,
    "execution": _private,
    "position": _private,
    "wallet": _private,
    "greeks": _private,
    "dcp": _private,
    "strategy": _private,
    "outboundAccountInfo": _private,
    "stopOrder": _private,
    "ticketInfo": _private,
}


# --------------------------------------------------------------------------- control frames


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)



def _decode_control(msg: dict[str, Any], frame: str | bytes | bytearray | memoryview) -> Event:
    op = msg.get("op")
    req_id = _opt_str(msg.get("req_id", msg.get("reqId")))
    conn_id = _opt_str(msg.get("conn_id", msg.get("connId")))
    if msg.get("type") == "COMMAND_RESP":
        data = msg.get("data") or {}
        ok_topics = tuple(data.get("successTopics") or ())
        fail = tuple(data.get("failTopics") or ())
        op_name = str(op or "")  # "": the reply names no op (option subscribe acks; see protocol.subscriptions)
        if fail and not ok_topics:
            return SubscribeFailure(op_name, f"failed topics: {', '.join(fail)}", fail[0], req_id, conn_id)
        return SubscribeAck(op_name, req_id, conn_id, ok_topics, fail)
    if op == "pong" or msg.get("ret_msg") == "pong" or ("pong" in msg and op is None):
        args = msg.get("args") or msg.get("data")
        ts: Any = args[0] if isinstance(args, list) and args else msg.get("pong")
        return Pong(_int_or_none(ts), req_id or None, conn_id)
    if op == "auth" or msg.get("type") == "AUTH_RESP":
        if "retCode" in msg:
            code = int(msg["retCode"])
            return AuthResult(code == 0 and msg.get("success", True) is not False,
                              str(msg.get("retMsg", "")), code, req_id, conn_id)
        return AuthResult(bool(msg.get("success")), str(msg.get("ret_msg", "")), None, req_id, conn_id)
    if op in ("subscribe", "unsubscribe"):
        if msg.get("success", False):
            return SubscribeAck(op, req_id, conn_id)
        message = str(msg.get("ret_msg", ""))
        return SubscribeFailure(op, message, failed_topic(message), req_id, conn_id)
    if isinstance(op, str) and op.startswith("order."):
        return TradeResponse(
            req_id, op, int(msg.get("retCode", -1)), str(msg.get("retMsg", "")),
            msg.get("data") or {}, msg.get("retExtInfo") or {}, msg.get("header") or {}, conn_id,
        )
    if "retCode" in msg:  # WS-API error without a recognised op (e.g. 10404 unknown op)
        return TradeResponse(
            req_id, str(op or ""), int(msg["retCode"]), str(msg.get("retMsg", "")),
            msg.get("data") or {}, msg.get("retExtInfo") or {}, msg.get("header") or {}, conn_id,
        )
    if msg.get("type") == "error" or msg.get("success") is False:
        return ServerError(str(msg.get("ret_msg", "")), _int_or_none(msg.get("ret_code")), _text(frame))
    return Unknown(_text(frame))


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- the fast path
#
# Wire structs: the shapes Bybit sends, field for field. msgspec fills them in C; with
# ``strict=False`` a numeric string such as "65000.1" becomes the float (or int) the field asks
# for. A frame these types do not fit raises inside msgspec and takes the general path instead.

_Fast = Callable[[str | bytes | bytearray, str], Event | None]
"""Reads one frame of a known topic; None (or an exception) sends it to the general path."""


class _BookData(msgspec.Struct, gc=False):
    s: str
    b: list[tuple[float, float]]
    a: list[tuple[float, float]]
    u: int
    seq: int = 0


class _BookFrame(msgspec.Struct, gc=False):
    topic: str
    type: Literal["snapshot", "delta"]
    ts: int
    data: _BookData
    cts: int = 0


class _TradeWire(msgspec.Struct, gc=False):
    T: int
    s: str
    S: str
    v: float
    p: float
    i: str
    L: str = ""
    BT: bool = False
    seq: int = 0


class _TradesFrame(msgspec.Struct, gc=False):
    topic: str
    ts: int
    data: list[_TradeWire]


_TICKER_NUMBERS = (
    # linear / inverse (futures and pre-market fields included)
    "price24hPcnt", "lastPrice", "prevPrice24h", "highPrice24h", "lowPrice24h", "prevPrice1h", "markPrice",
    "indexPrice", "openInterest", "openInterestValue", "singleOpenInterest", "singleOpenInterestValue",
    "turnover24h", "volume24h", "nextFundingTime", "fundingRate", "bid1Price", "bid1Size", "ask1Price", "ask1Size",
    "basisRate", "deliveryFeeRate", "predictedDeliveryPrice", "basis", "basisRateYear", "fundingIntervalHour",
    "fundingCap", "preOpenPrice", "preQty",
    # spot
    "usdIndexPrice",
    # option
    "bidPrice", "bidSize", "bidIv", "askPrice", "askSize", "askIv", "markPriceIv", "underlyingPrice", "totalVolume",
    "totalTurnover", "delta", "gamma", "vega", "theta", "change24h",
)
"""The numeric ticker fields Bybit documents (every category). A ticker with any other field, or an
empty or non-numeric value in one of these, takes the general path, which keeps everything."""

_TickerData: Any = msgspec.defstruct(
    "_TickerData",
    [("symbol", str)]
    + [(name, float | msgspec.UnsetType, msgspec.UNSET) for name in _TICKER_NUMBERS]
    + [(name, str | msgspec.UnsetType, msgspec.UNSET) for name in sorted(_TEXT_TICKER_FIELDS - {"symbol"})],
    forbid_unknown_fields=True,
    gc=False,
)
"""A ticker's ``data``: msgspec turns the numeric strings into floats in C; fields a frame does not
carry stay UNSET, and ``msgspec.to_builtins`` leaves them out of the fields dict."""


class _TickerFrame(msgspec.Struct, gc=False):
    topic: str
    ts: int
    data: _TickerData
    type: str = "snapshot"
    cs: int = 0


class _PrivateFrame(msgspec.Struct, gc=False):
    topic: str
    creationTime: int
    data: list[dict[str, Any]]
    id: str = ""
    ts: Any = None


_read_book = msgspec.json.Decoder(_BookFrame, strict=False).decode
_read_trades = msgspec.json.Decoder(_TradesFrame, strict=False).decode
_read_ticker = msgspec.json.Decoder(_TickerFrame, strict=False).decode
_read_private = msgspec.json.Decoder(_PrivateFrame, strict=False).decode


def _fast_book(frame: str | bytes | bytearray) -> Event | None:
    """A V5 ``orderbook.{depth}.{symbol}`` push; None for the shapes it leaves to the general path."""
    m = _read_book(frame)
    d = m.data
    topic = m.topic
    depth = _book_depths.get(topic)
    if depth is None:
        depth = _book_depth(topic)
        if depth is None:
            return None
    return BookUpdate(topic, d.s, depth, m.type == "snapshot", m.ts, d.u, d.seq, d.b, d.a, m.cts)


_book_depths: dict[str, int] = {}
"""Book topic -> its depth, for the topics the fast path takes."""


def _book_depth(topic: str) -> int | None:
    """The depth in a V5 book topic (cached), or None: spot v3 ``orderbook.40``, RPI or odd topics."""
    head, _, rest = topic.partition(".")
    depth_text = rest.split(".", 1)[0]
    if head != "orderbook" or not depth_text.isdigit() or depth_text == "40":
        return None
    if len(_book_depths) >= _CACHE_MAX:
        _book_depths.clear()
    depth = _book_depths[topic] = int(depth_text)
    return depth


def _fast_trades(frame: str | bytes | bytearray) -> Event | None:
    m = _read_trades(frame)
    if not m.topic.startswith("publicTrade."):
        return None
    return Trades(m.topic, m.ts, tuple([new_trade(t.T, t.s, t.S, t.p, t.v, t.i, t.L, t.BT, t.seq) for t in m.data]))


def _fast_tickers(frame: str | bytes | bytearray) -> Event | None:
    """A V5 ticker whose fields are all known and all set (spot v3 letter fields, ``""`` values and
    fields Bybit adds later take the general path)."""
    m = _read_ticker(frame)
    if not m.topic.startswith("tickers."):
        return None
    return TickerUpdate(m.topic, m.data.symbol, m.type == "snapshot", m.ts, m.cs, _to_builtins(m.data))


_to_builtins = msgspec.to_builtins


def _by_topic(read: Callable[[str | bytes | bytearray], Event | None]) -> _Fast:
    """A reader for frames whose topic was found by peeking: it checks the parse agrees."""

    def fast(frame: str | bytes | bytearray, topic: str) -> Event | None:
        event = read(frame)
        return event if event is not None and getattr(event, "topic", None) == topic else None

    return fast


_book_by_topic = _by_topic(_fast_book)
_trades_by_topic = _by_topic(_fast_trades)
_tickers_by_topic = _by_topic(_fast_tickers)


def _private_reader(kind: str, order: bool) -> _Fast:
    def read(frame: str | bytes | bytearray, topic: str) -> Event | None:
        m = _read_private(frame)
        items = m.data
        if m.topic != topic or (order and (isinstance(m.ts, str) or any("e" in x for x in items))):
            return None  # the legacy v3 order shape
        return PrivateUpdate(topic, kind, m.id, m.creationTime, tuple(items))  # type: ignore[arg-type]

    return read


def _no_fast(frame: str | bytes | bytearray, topic: str) -> Event | None:
    return None


_FAST_PRIVATE = frozenset(("order", "execution", "position", "wallet", "greeks", "dcp"))
_fast_cache: dict[str, _Fast] = {}
"""Topic text -> its fast reader (``_no_fast`` when the topic has none)."""


_fast_bytes_cache: dict[bytes, tuple[str, _Fast]] = {}
"""The same for frames that arrive as bytes: topic bytes -> (topic text, fast reader)."""


def _fast_bytes_for(raw_topic: bytes) -> tuple[str, _Fast]:
    """The topic text and fast reader for a topic first seen in a bytes frame (cached)."""
    try:
        topic = raw_topic.decode()
    except UnicodeDecodeError:
        entry: tuple[str, _Fast] = ("", _no_fast)
    else:
        entry = (topic, _fast_cache.get(topic) or _fast_for(topic))
    if len(_fast_bytes_cache) >= _CACHE_MAX:
        _fast_bytes_cache.clear()
    _fast_bytes_cache[raw_topic] = entry
    return entry


def _fast_for(topic: str) -> _Fast:
    """The fast reader for a topic seen for the first time (cached)."""
    head = topic.partition(".")[0]
    fast: _Fast = _no_fast
    if head == "orderbook":
        if _book_depth(topic) is not None:
            fast = _book_by_topic
    elif head == "publicTrade":
        fast = _trades_by_topic
    elif head == "tickers":
        fast = _tickers_by_topic
    elif head in _FAST_PRIVATE and topic not in _V3_PRIVATE:
        kind = "execution.fast" if topic.startswith("execution.fast") else head
        fast = _private_reader(kind, head == "order")
    if len(_fast_cache) >= _CACHE_MAX:
        _fast_cache.clear()
    _fast_cache[topic] = fast
    return fast
