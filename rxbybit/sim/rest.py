"""The simulator's V5 REST API, served on the port of its sockets.

``WireServer`` hands every plain HTTP request (one without a websocket upgrade) for a path it does
not serve as a socket to :meth:`RestDesk.answer`. The desk answers GETs of the public market
reads and the signed account reads in Bybit's envelope, field names and string formats, checks
signatures and ``recv_window`` as Bybit does (through :mod:`rxbybit.protocol.rest`, the rules the
client signs with), reports a per-key rate limit in the ``X-Bapi-Limit*`` headers, and has faults:
REST down (HTTP 503), a forced rate limit (retCode 10006), and the IP limit (HTTP 403).

Every answer closes its connection (``Connection: close``): the socket server speaks one request
per connection.
"""

from __future__ import annotations

import http
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from ..protocol import rest as R
from ..protocol.clock import now_ms as wall_ms
from ..protocol.json_codec import dumps
from ..protocol.topics import KLINE_INTERVALS, Category
from .accounts import Account, Position
from .engine import Engine
from .market import Market
from .pushes import (
    derivative_ticker_fields,
    option_ticker_fields,
    order_row,
    position_row,
    spot_ticker_fields,
    wallet_row,
)
from .rest_rows import KlineHistory, book_result, instrument_row, kline_rows, trade_rows

CATEGORIES: Final[tuple[Category, ...]] = ("spot", "linear", "inverse", "option")
PRIVATE_LIMIT_PER_S: Final = 50
"""Requests per second per key and path on the private reads (Bybit's unified-account figure)."""
IP_LIMIT: Final = 600
"""REST requests per 5 s window before HTTP 403 (Bybit's per-IP limit; on loopback every client
shares one IP)."""


class RestFail(Exception):
    """A request the simulator refuses in Bybit's envelope (``code`` and ``message`` are Bybit's)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class RestFaults:
    """Faults of the REST side: ``down`` answers 503 to everything, ``rate_limited`` answers the
    next n requests with retCode 10006, ``ip_limited`` the next n with HTTP 403."""

    down: bool = False
    rate_limited: int = 0
    ip_limited: int = 0


@dataclass
class _Window:
    second: int = 0
    used: int = 0


def _params_error(detail: str) -> RestFail:
    return RestFail(10001, f"params error: {detail}")


class RestDesk:
    """Bybit's V5 REST reads over the simulator's markets and accounts."""

    def __init__(self, markets: Mapping[Category, Mapping[str, Market]], engine: Engine, now_ms: Callable[[], int],
                 start_ms: int, seed: int, underlying: Callable[[str], float]) -> None:
        self.markets = markets
        self.engine = engine
        self.now_ms = now_ms
        self.start_ms = start_ms
        self.underlying = underlying
        self.history = KlineHistory(seed, start_ms)
        for ms in markets.values():
            for m in ms.values():
                self.history.anchor(m)
        self.faults = RestFaults()
        self.limit_per_s = PRIVATE_LIMIT_PER_S
        """Requests per second per key and path on the private reads."""
        self.ip_limit: int | None = IP_LIMIT
        """REST requests per 5 s window before HTTP 403 (None: no limit)."""
        self._ip_window = _Window()
        self.requests = 0
        """Requests answered (any outcome)."""
        self._windows: dict[tuple[str, str], _Window] = {}
        self._routes: dict[str, Callable[[dict[str, str]], Any]] = {
            R.INSTRUMENTS: self._instruments, R.KLINE: self._kline, R.RECENT_TRADE: self._recent_trade,
            R.ORDERBOOK: self._orderbook, R.TICKERS: self._tickers, R.SERVER_TIME: self._time,
        }
        self._private: dict[str, Callable[[Account, dict[str, str]], Any]] = {
            R.OPEN_ORDERS: self._open_orders, R.POSITIONS: self._positions, R.WALLET: self._wallet,
            R.EXECUTIONS: self._executions,
        }

    # ------------------------------------------------------------------ HTTP

    def serves(self, path: str) -> bool:
        """True when ``path`` (without its query) is a REST path of the simulator."""
        return path in self._routes or path in self._private

    def answer(self, request: Request) -> Response | None:
        """The HTTP answer to ``request``, or None when it is a websocket handshake (or not ours)."""
        parts = urlsplit(request.path)
        if "upgrade" in request.headers.get("Connection", "").lower() or not self.serves(parts.path):
            return None
        self.requests += 1
        if self.faults.down:
            return _response(http.HTTPStatus.SERVICE_UNAVAILABLE, b"503 Service Unavailable: REST is down (fault)\n",
                             "text/plain; charset=utf-8")
        if self.faults.ip_limited > 0 or self._over_ip_limit():
            self.faults.ip_limited = max(0, self.faults.ip_limited - 1)
            return _response(http.HTTPStatus.FORBIDDEN, b"403 Forbidden: access too frequent\n",
                             "text/plain; charset=utf-8")
        if request.method != "GET":
            return _response(http.HTTPStatus.METHOD_NOT_ALLOWED,
                             b"405 Method Not Allowed: the simulator's REST API serves GETs only\n",
                             "text/plain; charset=utf-8")
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        extra: dict[str, str] = {}
        try:
            if self.faults.rate_limited > 0:
                self.faults.rate_limited -= 1
                extra = R.rate_limit_headers(R.RateLimit(self.limit_per_s, 0, wall_ms() + 1_000))
                raise RestFail(R.RATE_LIMITED, "Too many visits!")
            if parts.path in self._private:
                acct = self._authenticate(request, parts.query)
                extra = self._count(acct, parts.path)
                result = self._private[parts.path](acct, params)
            else:
                result = self._routes[parts.path](params)
            body = R.envelope(result, self.now_ms())
        except RestFail as exc:
            body = R.envelope({}, self.now_ms(), exc.code, exc.message)
        return _response(http.HTTPStatus.OK, dumps(body).encode(), "application/json", extra)

    def _authenticate(self, request: Request, query: str) -> Account:
        h = request.headers
        key, ts, window, sign = (h.get(R.H_API_KEY), h.get(R.H_TIMESTAMP), h.get(R.H_RECV_WINDOW, "5000"),
                                 h.get(R.H_SIGN))
        if not key or not ts or not sign:
            raise RestFail(10003, "API key is invalid.")
        acct = self.engine.accounts.get(key)
        if acct is None:
            raise RestFail(10003, "API key is invalid.")
        if not ts.isdigit() or not window.isdigit():
            raise _params_error("X-BAPI-TIMESTAMP and X-BAPI-RECV-WINDOW must be integers")
        problem = R.timestamp_problem(int(ts), int(window), wall_ms())
        if problem is not None:
            raise RestFail(10002, problem)
        if sign != R.rest_signature(acct.api_secret, ts, key, window, query):
            raise RestFail(10004, "error sign! please check your signature")
        return acct

    def _over_ip_limit(self) -> bool:
        window = wall_ms() // 5_000
        w = self._ip_window
        if w.second != window:
            w.second, w.used = window, 0
        w.used += 1
        return self.ip_limit is not None and w.used > self.ip_limit

    def _count(self, acct: Account, path: str) -> dict[str, str]:
        now = wall_ms()
        second = now // 1_000
        w = self._windows.setdefault((acct.api_key, path), _Window())
        if w.second != second:
            w.second, w.used = second, 0
        w.used += 1
        limit = R.RateLimit(self.limit_per_s, max(0, self.limit_per_s - w.used), (second + 1) * 1_000)
        if w.used > self.limit_per_s:
            raise RestFail(R.RATE_LIMITED, "Too many visits!")
        return R.rate_limit_headers(limit)

    # ------------------------------------------------------------------ helpers

    def _category(self, params: Mapping[str, str], allowed: tuple[str, ...] = CATEGORIES) -> Category:
        cat = params.get("category", "")
        if cat not in allowed:
            raise _params_error(f"category must be one of {', '.join(allowed)}, got {cat!r}")
        return cat  # type: ignore[return-value]

    def _market(self, cat: Category, params: Mapping[str, str]) -> Market:
        sym = params.get("symbol", "")
        market = self.markets[cat].get(sym)
        if market is None:
            raise RestFail(10001, f"Not supported symbols (symbol {sym!r} is not a simulated {cat} symbol)")
        return market

    @staticmethod
    def _int(params: Mapping[str, str], name: str, default: int | None, low: int = 1,
             high: int = 10**15) -> int | None:
        raw = params.get(name)
        if raw in (None, ""):
            return default
        assert raw is not None
        if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
            raise _params_error(f"{name} must be an integer in [{low}, {high}], got {raw!r}")
        return int(raw)

    @staticmethod
    def _page(rows: list[Any], params: Mapping[str, str], default: int, high: int) -> dict[str, Any]:
        limit = RestDesk._int(params, "limit", default, 1, high) or default
        cursor = params.get("cursor") or ""
        offset = 0
        if cursor:
            if not cursor.startswith("page:") or not cursor[5:].isdigit():
                raise _params_error(f"cursor {cursor!r} is not one this API handed out")
            offset = int(cursor[5:])
        page = rows[offset: offset + limit]
        nxt = f"page:{offset + limit}" if offset + limit < len(rows) else ""
        return {"list": page, "nextPageCursor": nxt}

    # ------------------------------------------------------------------ public

    def _time(self, params: dict[str, str]) -> dict[str, Any]:
        now = self.now_ms()
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    def _instruments(self, params: dict[str, str]) -> dict[str, Any]:
        cat = self._category(params)
        sym, status = params.get("symbol"), params.get("status")
        base = params.get("baseCoin")
        rows = [instrument_row(m.inst, self.start_ms) for m in self.markets[cat].values()
                if (not sym or m.inst.symbol == sym) and (not base or m.inst.base == base)
                and (not status or status == "Trading")]
        if cat == "spot":
            return {"category": cat, "list": rows}
        return {"category": cat, **self._page(rows, params, 500, 1000)}

    def _kline(self, params: dict[str, str]) -> dict[str, Any]:
        cat = self._category(params, ("spot", "linear", "inverse"))
        market = self._market(cat, params)
        interval = params.get("interval", "")
        if interval not in KLINE_INTERVALS:
            raise _params_error(f"interval must be one of {', '.join(KLINE_INTERVALS)}, got {interval!r}")
        limit = self._int(params, "limit", 200, 1, R.KLINE_MAX_LIMIT) or 200
        rows = kline_rows(market, interval, self.history, start=self._int(params, "start", None, 0),
                          end=self._int(params, "end", None, 0), limit=limit)
        return {"category": cat, "symbol": market.inst.symbol, "list": rows}

    def _recent_trade(self, params: dict[str, str]) -> dict[str, Any]:
        cat = self._category(params)
        high = 60 if cat == "spot" else R.RECENT_TRADE_MAX_LIMIT
        limit = self._int(params, "limit", 60 if cat == "spot" else 500, 1, high) or 1
        if cat == "option" and not params.get("symbol"):
            base = params.get("baseCoin", "BTC")
            markets = [m for m in self.markets["option"].values() if m.inst.base == base]
        else:
            markets = [self._market(cat, params)]
        return {"category": cat, "list": trade_rows(markets, limit)}

    def _orderbook(self, params: dict[str, str]) -> dict[str, Any]:
        cat = self._category(params)
        market = self._market(cat, params)
        high = {"spot": 200, "option": 25}.get(cat, 500)
        limit = self._int(params, "limit", 1 if cat == "spot" else 25, 1, high) or 1
        return book_result(market, limit, self.now_ms())

    def _tickers(self, params: dict[str, str]) -> dict[str, Any]:
        cat = self._category(params)
        sym = params.get("symbol")
        if sym:
            markets = [self._market(cat, params)]
        elif cat == "option":
            base = params.get("baseCoin", "BTC")
            markets = [m for m in self.markets["option"].values() if m.inst.base == base]
        else:
            markets = list(self.markets[cat].values())
        return {"category": cat, "list": [self._ticker(m) for m in markets]}

    def _ticker(self, m: Market) -> dict[str, str]:
        inst, st, book = m.inst, m.stats, m.book
        mid = m.mid() or st.last_price
        bid, ask = book.touch("Buy"), book.touch("Sell")
        if inst.category == "spot":
            return {**spot_ticker_fields(inst, st, mid), "bid1Price": inst.px(bid[0]), "bid1Size": inst.qty(bid[1]),
                    "ask1Price": inst.px(ask[0]), "ask1Size": inst.qty(ask[1])}
        if inst.category != "option":
            return derivative_ticker_fields(inst, st, mid, bid, ask, self.now_ms())
        under = self.underlying(inst.base) or inst.strike
        x = (under - inst.strike) / (0.05 * max(under, 1e-9))
        delta = 0.5 + 0.5 * math.tanh(x) - (1.0 if inst.option_type == "Put" else 0.0)
        gamma = 0.5 * (1 - math.tanh(x) ** 2) / (0.05 * max(under, 1e-9))
        return option_ticker_fields(inst, st, mid, bid, ask, under, delta, gamma)

    # ------------------------------------------------------------------ private

    def _open_orders(self, acct: Account, params: dict[str, str]) -> dict[str, Any]:
        cat = self._category(params)
        sym, settle = params.get("symbol"), params.get("settleCoin")
        oid, link = params.get("orderId"), params.get("orderLinkId")
        open_only = params.get("openOnly", "0")
        orders = list(acct.orders.values())
        if oid or link or open_only == "1":
            orders += list(acct.closed_orders)
        rows = [order_row(o) for o in orders
                if o.inst.category == cat and (not sym or o.inst.symbol == sym)
                and (not settle or o.inst.settle == settle) and (not oid or o.order_id == oid)
                and (not link or o.link_id == link)
                and (open_only != "1" or not o.active)]
        rows.sort(key=lambda r: int(r["createdTime"]), reverse=True)
        return {"category": cat, **self._page(rows, params, 20, 50)}

    def _positions(self, acct: Account, params: dict[str, str]) -> dict[str, Any]:
        cat = self._category(params, ("linear", "inverse", "option"))
        sym, settle = params.get("symbol"), params.get("settleCoin")
        ledger = self.engine.ledger
        positions = [p for (c, s), p in acct.positions.items()
                     if c == cat and (not sym or s == sym) and (not settle or p.inst.settle == settle)]
        if sym and not positions:
            positions = [Position(self._market(cat, params).inst)]
        now = self.now_ms()
        rows = [position_row(p, ledger.mark(p.inst), now) for p in positions]
        return {"category": cat, **self._page(rows, params, 20, 200)}

    def _wallet(self, acct: Account, params: dict[str, str]) -> dict[str, Any]:
        if params.get("accountType") != "UNIFIED":
            raise _params_error(f"accountType must be UNIFIED, got {params.get('accountType')!r}")
        balances = self.engine.ledger.balances(acct)
        coins = params.get("coin")
        if coins:
            wanted = set(coins.split(","))
            balances = [b for b in balances if b.coin in wanted]
        realised: Mapping[str, Decimal] = acct.realised
        return {"list": [wallet_row(balances, realised)]}

    def _executions(self, acct: Account, params: dict[str, str]) -> dict[str, Any]:
        cat = self._category(params)
        sym = params.get("symbol")
        since = self._int(params, "startTime", None, 0)
        rows = [r for r in reversed(acct.executions)
                if r["category"] == cat and (not sym or r["symbol"] == sym)
                and (since is None or int(r["execTime"]) >= since)]
        return {"category": cat, **self._page(rows, params, 50, 100)}


def _response(status: http.HTTPStatus, body: bytes, content_type: str,
              extra: Mapping[str, str] | None = None) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))), ("Connection", "close")])
    for k, v in (extra or {}).items():
        headers[k] = v
    return Response(status.value, status.phrase, headers, body)
