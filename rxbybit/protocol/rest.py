"""Bybit's V5 REST rules, sans-I/O: hosts, paths, request signing, the envelope, limits and row shapes.

The REST client (:mod:`rxbybit.rest`) writes what the simulator's REST side (:mod:`rxbybit.sim.rest`)
checks through this one module, so a rule (the signed string, the recv_window test, a header name)
cannot drift on one side only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .events import Candle, Trade

REST_HOSTS: Final[Mapping[str, str]] = {
    "mainnet": "https://api.bybit.com",
    "testnet": "https://api-testnet.bybit.com",
    "demo": "https://api-demo.bybit.com",
}
"""REST base URL of each named network."""

DEFAULT_RECV_WINDOW: Final = 5_000
"""Milliseconds a signed request stays valid after its timestamp (Bybit's default)."""
FUTURE_TOLERANCE_MS: Final = 1_000
"""A timestamp may lead the server's clock by less than this (Bybit's rule)."""

# paths
INSTRUMENTS: Final = "/v5/market/instruments-info"
KLINE: Final = "/v5/market/kline"
RECENT_TRADE: Final = "/v5/market/recent-trade"
ORDERBOOK: Final = "/v5/market/orderbook"
TICKERS: Final = "/v5/market/tickers"
SERVER_TIME: Final = "/v5/market/time"
OPEN_ORDERS: Final = "/v5/order/realtime"
POSITIONS: Final = "/v5/position/list"
WALLET: Final = "/v5/account/wallet-balance"
EXECUTIONS: Final = "/v5/execution/list"

PUBLIC_PATHS: Final = frozenset({INSTRUMENTS, KLINE, RECENT_TRADE, ORDERBOOK, TICKERS, SERVER_TIME})
PRIVATE_PATHS: Final = frozenset({OPEN_ORDERS, POSITIONS, WALLET, EXECUTIONS})

# headers
H_API_KEY: Final = "X-BAPI-API-KEY"
H_TIMESTAMP: Final = "X-BAPI-TIMESTAMP"
H_RECV_WINDOW: Final = "X-BAPI-RECV-WINDOW"
H_SIGN: Final = "X-BAPI-SIGN"
H_LIMIT: Final = "X-Bapi-Limit"
H_LIMIT_STATUS: Final = "X-Bapi-Limit-Status"
H_LIMIT_RESET: Final = "X-Bapi-Limit-Reset-Timestamp"

# retCodes a REST answer can carry (beyond replies.RetCode)
SERVER_ERROR: Final = 10016
PERMISSION_DENIED: Final = 10005
RATE_LIMITED: Final = 10006
AUTH_CODES: Final = frozenset({10002, 10003, 10004, 10005, 10007, 10009, 10010, 33004})
"""retCodes that mean the key, the signature, the clock or the permissions are wrong."""
RETRYABLE_CODES: Final = frozenset({SERVER_ERROR, RATE_LIMITED, 10019})
"""retCodes after which repeating a read can succeed."""

KLINE_MAX_LIMIT: Final = 1_000
"""Most candles one kline request returns (default 200)."""
RECENT_TRADE_MAX_LIMIT: Final = 1_000
"""Most trades recent-trade returns (spot 60, others 1000 on Bybit; the simulator allows 1000)."""


def query_string(params: Mapping[str, Any]) -> str:
    """The query string Bybit signs: ``k=v`` pairs joined with ``&`` in the given order, None values
    left out, booleans as ``true``/``false`` (what pybit sends and what is put on the wire)."""
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        parts.append(f"{key}={text}")
    return "&".join(parts)


def sign_payload(timestamp: int | str, api_key: str, recv_window: int | str, payload: str) -> str:
    """The string a V5 REST signature covers: timestamp + api key + recv_window + payload (the query
    string of a GET, the JSON body of a POST)."""
    return f"{timestamp}{api_key}{recv_window}{payload}"


def rest_signature(api_secret: str, timestamp: int | str, api_key: str, recv_window: int | str,
                   payload: str) -> str:
    """Lower-case hex HMAC-SHA256 of :func:`sign_payload` keyed with ``api_secret``."""
    if not api_secret:
        raise ValueError("api_secret is empty")
    message = sign_payload(timestamp, api_key, recv_window, payload)
    return hmac.new(api_secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_headers(api_key: str, api_secret: str, timestamp: int, payload: str,
                   recv_window: int = DEFAULT_RECV_WINDOW) -> dict[str, str]:
    """The four ``X-BAPI-*`` headers of a signed request."""
    return {
        H_API_KEY: api_key,
        H_TIMESTAMP: str(timestamp),
        H_RECV_WINDOW: str(recv_window),
        H_SIGN: rest_signature(api_secret, timestamp, api_key, recv_window, payload),
    }


def timestamp_problem(timestamp: int, recv_window: int, server_ms: int) -> str | None:
    """Why Bybit refuses a signed request's timing (retCode 10002), or None when it is fine:
    ``server - recv_window <= timestamp < server + 1000``."""
    if timestamp < server_ms - recv_window:
        return (f"invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{timestamp}],server_timestamp[{server_ms}],recv_window[{recv_window}]")
    if timestamp >= server_ms + FUTURE_TOLERANCE_MS:
        return (f"invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{timestamp}],server_timestamp[{server_ms}],recv_window[{recv_window}]")
    return None


def envelope(result: Any, time_ms: int, ret_code: int = 0, ret_msg: str = "OK",
             ext: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Bybit's REST answer: ``retCode``, ``retMsg``, ``result``, ``retExtInfo``, ``time``."""
    return {"retCode": ret_code, "retMsg": ret_msg, "result": {} if result is None else result,
            "retExtInfo": dict(ext or {}), "time": time_ms}


@dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed REST answer."""

    ret_code: int
    ret_msg: str
    result: Any
    ext: Mapping[str, Any]
    time: int


def parse_envelope(obj: Any) -> Envelope | None:
    """The envelope of a decoded JSON answer, or None when the answer is not one (missing or
    ill-typed ``retCode``/``retMsg``)."""
    if not isinstance(obj, dict):
        return None
    code, msg = obj.get("retCode"), obj.get("retMsg")
    if not isinstance(code, int) or isinstance(code, bool) or not isinstance(msg, str):
        return None
    ext = obj.get("retExtInfo")
    t = obj.get("time")
    return Envelope(code, msg, obj.get("result"), ext if isinstance(ext, dict) else {},
                    t if isinstance(t, int) and not isinstance(t, bool) else 0)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """What the ``X-Bapi-Limit*`` headers said: the per-second limit of the endpoint, the requests
    left in the current window and when it resets (epoch ms)."""

    limit: int
    remaining: int
    reset_ms: int


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimit | None:
    """The rate limit of an answer's headers (names compared case-insensitively), or None."""
    low = {k.lower(): v for k, v in headers.items()}
    try:
        return RateLimit(int(low[H_LIMIT.lower()]), int(low[H_LIMIT_STATUS.lower()]),
                         int(low[H_LIMIT_RESET.lower()]))
    except (KeyError, ValueError):
        return None


def rate_limit_headers(limit: RateLimit) -> dict[str, str]:
    """The ``X-Bapi-Limit*`` headers of ``limit``."""
    return {H_LIMIT: str(limit.limit), H_LIMIT_STATUS: str(limit.remaining), H_LIMIT_RESET: str(limit.reset_ms)}


# ---------------------------------------------------------------------------------- rows


def kline_candles(rows: Sequence[Any], interval: str, interval_ms: int | None, *,
                  latest_open: bool = True) -> list[Candle]:
    """``result.list`` of ``/v5/market/kline`` (newest first, ``[start, o, h, l, c, volume, turnover]``)
    as candles, oldest first.

    Bybit's newest row is the candle still forming when no ``end`` was given: with ``latest_open`` it
    comes out with ``confirm=False`` (and ``timestamp`` = its start: REST does not say when it was
    last updated); every older row is closed (``confirm=True``, ``timestamp`` = its end).
    ``interval_ms`` is None for ``W`` and ``M``, whose end is the next candle's start minus one.
    Malformed rows raise ``ValueError`` naming the row."""
    out: list[Candle] = []
    ordered = list(reversed(rows))
    for i, row in enumerate(ordered):
        if not isinstance(row, list | tuple) or len(row) < 7:
            raise ValueError(f"kline row {row!r} is not [start, open, high, low, close, volume, turnover]")
        try:
            start = int(row[0])
            o, h, lo, c, v, t = (float(x) for x in row[1:7])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"kline row {row!r} has a non-numeric field") from exc
        newest = i + 1 == len(ordered)
        if interval_ms is not None:
            end = start + interval_ms - 1
        elif not newest:
            end = int(ordered[i + 1][0]) - 1
        else:
            end = start
        confirm = not (newest and latest_open)
        out.append(Candle(start, end, interval, o, h, lo, c, v, t, confirm, end if confirm else start))
    return out


def recent_trades(rows: Sequence[Any]) -> list[Trade]:
    """``result.list`` of ``/v5/market/recent-trade`` (newest first) as trades, oldest first."""
    out: list[Trade] = []
    for row in reversed(rows):
        if not isinstance(row, dict):
            raise ValueError(f"recent-trade row {row!r} is not an object")
        try:
            out.append(Trade(int(row["time"]), str(row["symbol"]), str(row["side"]), float(row["price"]),
                             float(row["size"]), str(row["execId"]), block_trade=bool(row.get("isBlockTrade"))))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"recent-trade row {row!r} lacks a field or has a bad one") from exc
    return out
