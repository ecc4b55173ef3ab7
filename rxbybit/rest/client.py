"""An async client of Bybit's V5 REST API on httpx: signing, the envelope, typed errors, retries.

One :class:`RestClient` holds one ``httpx.AsyncClient`` (one connection pool) for its base URL.
Every call is a GET (reads only), so a failure that may pass (connection error, timeout, HTTP
5xx, retCode 10016/10006/10019, HTTP 403/429) is retried with exponential backoff and jitter, a
bounded number of times; a private GET is signed afresh on every attempt. What is left raises a
typed error (:mod:`rxbybit.errors`): :class:`~rxbybit.errors.RestError`,
:class:`~rxbybit.errors.RateLimitError`, :class:`~rxbybit.errors.RestUnavailableError`,
:class:`~rxbybit.errors.AuthenticationError`. Nothing here touches a socket of the streams, so a
REST failure never stops a stream.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from ..errors import AuthenticationError, MissingCredentialsError, RateLimitError, RestError, RestUnavailableError
from ..protocol import rest as R
from ..protocol.clock import now_ms
from ..protocol.json_codec import JSONDecodeError, loads
from ..protocol.signing import Credentials

MAX_PAGES: Final = 100
"""Most pages a paged read follows before it stops (a guard against a cursor that never ends)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How GETs are retried: ``attempts`` in all, waits of ``base * 2**n`` (capped at ``cap``) seconds
    with full jitter; a rate limit waits until its reset time when that is sooner than ``cap``."""

    attempts: int = 3
    base: float = 0.2
    cap: float = 2.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        return float(rng.uniform(0, min(self.cap, self.base * 2**attempt)))


BaseUrl = str | Callable[[], Awaitable[str]]
"""A base URL, or a coroutine function giving it (the embedded simulator's URL is known once it runs)."""


def http_base(ws_or_http_base: str) -> str:
    """The REST base URL of a websocket base URL: ``ws://h:p`` -> ``http://h:p`` (the simulator serves
    REST on the port of its sockets), ``wss://`` -> ``https://``; an http(s) URL is kept."""
    url = ws_or_http_base.rstrip("/")
    if url.startswith("ws://"):
        return "http://" + url[5:]
    if url.startswith("wss://"):
        return "https://" + url[6:]
    if url.startswith(("http://", "https://")):
        return url
    raise ValueError(f"not a base URL: {ws_or_http_base!r}; expected ws://, wss://, http:// or https://")


class RestClient:
    """Bybit V5 REST reads (public market data, and the signed account reads) for one base URL.

    ``base_url`` is a URL (``https://api.bybit.com``) or a coroutine function that gives one;
    ``public_base_url``, if given, serves the unsigned market reads instead (Bybit's demo network
    keeps accounts on ``api-demo`` and streams mainnet's market data). ``transport`` replaces
    httpx's network transport (tests hand in a mock). Close it with
    :meth:`close` (or ``async with``).
    """

    def __init__(self, base_url: BaseUrl, *, public_base_url: str | None = None,
                 credentials: Credentials | None = None,
                 recv_window: int = R.DEFAULT_RECV_WINDOW, timeout: float = 10.0,
                 retry: RetryPolicy | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], int] = now_ms, seed: int | None = None) -> None:
        self._base = base_url
        self._public_base = public_base_url
        self.credentials = credentials
        self.recv_window = recv_window
        self.retry = retry or RetryPolicy()
        self._clock = clock
        self._rng = random.Random(seed)
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport,
                                       headers={"User-Agent": "rxbybit", "Accept": "application/json"})
        self.rate_limits: dict[str, R.RateLimit] = {}
        """The last ``X-Bapi-Limit*`` headers seen, by path."""
        self.requests = 0
        """HTTP requests sent (retries included)."""
        self.retries = 0
        """Requests that were repeated after a failure that may pass."""

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    def __repr__(self) -> str:
        base = self._base if isinstance(self._base, str) else "(resolved on first use)"
        auth = f" key={self.credentials.api_key[:4]}…" if self.credentials else ""
        return f"<RestClient {base}{auth}>"

    async def base_url(self) -> str:
        """The base URL requests go to."""
        return self._base if isinstance(self._base, str) else await self._base()

    # ------------------------------------------------------------------ the one request path

    async def get(self, path: str, params: Mapping[str, Any] | None = None, *, signed: bool = False) -> Any:
        """GET ``path`` with ``params`` (signed when ``signed``) and return the envelope's ``result``.

        Retries what may pass (see the module doc); raises a typed error for the rest.
        """
        query = R.query_string(params or {})
        base = http_base(self._public_base if self._public_base and not signed else await self.base_url())
        url = f"{base}{path}?{query}" if query else f"{base}{path}"
        last: RestError | None = None
        for attempt in range(max(1, self.retry.attempts)):
            if attempt:
                self.retries += 1
                await asyncio.sleep(self._wait(attempt - 1, last))
            try:
                return await self._once(path, url, query, signed)
            except RestError as exc:
                if not _retryable(exc):
                    raise
                last = exc
        assert last is not None
        raise last

    def _wait(self, attempt: int, error: RestError | None) -> float:
        delay = self.retry.delay(attempt, self._rng)
        if isinstance(error, RateLimitError) and error.reset_ms:
            until_reset = (error.reset_ms - self._clock()) / 1000
            if 0 < until_reset <= self.retry.cap:
                delay = max(delay, until_reset)
        return delay

    def _headers(self, path: str, query: str) -> dict[str, str]:
        if self.credentials is None:
            raise MissingCredentialsError(
                f"REST {path} is private: create the client with api_key=... and api_secret=... "
                "(on network='sim' use rxbybit.sim.DEMO_API_KEY / DEMO_API_SECRET)"
            )
        c = self.credentials
        return R.signed_headers(c.api_key, c.api_secret, self._clock(), query, self.recv_window)

    async def _once(self, path: str, url: str, query: str, signed: bool) -> Any:
        headers = self._headers(path, query) if signed else None
        self.requests += 1
        try:
            response = await self._http.get(url, headers=headers)
        except httpx.TimeoutException as exc:
            raise RestUnavailableError(path, f"no answer in time ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise RestUnavailableError(path, f"cannot reach the REST API ({type(exc).__name__}: {exc}); "
                                             "network='sim' runs against the local simulator") from None
        limit = R.parse_rate_limit(response.headers)
        if limit is not None:
            self.rate_limits[path] = limit
        reset = limit.reset_ms if limit is not None else 0
        status = response.status_code
        if status in (403, 429):
            raise RateLimitError(path, _short(response.text) or "access limited", status=status, reset_ms=reset)
        try:
            body = loads(response.content)
        except JSONDecodeError:
            body = None
        env = R.parse_envelope(body)
        if env is None:
            if status >= 400:
                raise RestError(path, _short(response.text) or response.reason_phrase, status=status)
            raise RestError(path, f"the answer is not Bybit's envelope: {_short(response.text)!r}", status=status)
        if env.ret_code == 0:
            return env.result
        if env.ret_code == R.RATE_LIMITED:
            raise RateLimitError(path, env.ret_msg, code=env.ret_code, status=status, reset_ms=reset)
        if env.ret_code in R.AUTH_CODES:
            raise AuthenticationError(f"REST {path}", env.ret_msg, env.ret_code)
        raise RestError(path, env.ret_msg, code=env.ret_code, status=status)

    async def get_paged(self, path: str, params: Mapping[str, Any], *, signed: bool = False,
                        max_pages: int = MAX_PAGES) -> list[Any]:
        """Every ``result.list`` row of a cursor-paged read, following ``nextPageCursor``."""
        rows: list[Any] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(max_pages):
            page = await self.get(path, {**params, "cursor": cursor}, signed=signed)
            rows.extend(_list(page, path))
            cursor = page.get("nextPageCursor") if isinstance(page, dict) else None
            if not cursor or cursor in seen:
                return rows
            seen.add(cursor)
        raise RestError(path, f"still paging after {max_pages} pages; narrow the request")

    # ------------------------------------------------------------------ public reads

    async def server_time(self) -> int:
        """The exchange's clock (epoch ms)."""
        result = await self.get(R.SERVER_TIME)
        return int(result.get("timeNano", 0)) // 1_000_000 if isinstance(result, dict) else 0

    async def instruments_info(self, category: str, symbol: str | None = None, *,
                               status: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Every instrument row of ``category`` (all pages)."""
        params: dict[str, Any] = {"category": category, "symbol": symbol, "status": status}
        if category != "spot":
            params["limit"] = limit
        return await self.get_paged(R.INSTRUMENTS, params)

    async def kline(self, category: str, symbol: str, interval: str, *, start: int | None = None,
                    end: int | None = None, limit: int = 200) -> list[list[str]]:
        """``result.list`` of one kline request (newest first, at most 1000 rows)."""
        result = await self.get(R.KLINE, {"category": category, "symbol": symbol, "interval": interval,
                                          "start": start, "end": end, "limit": limit})
        return _list(result, R.KLINE)

    async def recent_trades(self, category: str, symbol: str, *, limit: int = 500) -> list[dict[str, Any]]:
        """The latest public trades (newest first)."""
        return _list(await self.get(R.RECENT_TRADE, {"category": category, "symbol": symbol, "limit": limit}),
                     R.RECENT_TRADE)

    async def orderbook(self, category: str, symbol: str, *, limit: int = 25) -> dict[str, Any]:
        """An order book snapshot: ``s``, ``b``, ``a``, ``ts``, ``u``, ``seq``, ``cts``."""
        result = await self.get(R.ORDERBOOK, {"category": category, "symbol": symbol, "limit": limit})
        return result if isinstance(result, dict) else {}

    async def tickers(self, category: str, symbol: str | None = None) -> list[dict[str, Any]]:
        """Ticker rows of ``category`` (one symbol, or all)."""
        return _list(await self.get(R.TICKERS, {"category": category, "symbol": symbol}), R.TICKERS)

    # ------------------------------------------------------------------ private reads (signed)

    async def open_orders(self, category: str, *, symbol: str | None = None, settle_coin: str | None = None,
                          order_id: str | None = None, order_link_id: str | None = None,
                          open_only: int | None = None) -> list[dict[str, Any]]:
        """``/v5/order/realtime``: open orders (all pages); with ``order_id``/``order_link_id`` also a
        recently closed one."""
        params = {"category": category, "symbol": symbol, "orderId": order_id, "orderLinkId": order_link_id,
                  "openOnly": open_only, "limit": 50}
        rows: list[dict[str, Any]] = []
        for coin in _settle_coins(category, symbol or order_id or order_link_id, settle_coin):
            rows += await self.get_paged(R.OPEN_ORDERS, {**params, "settleCoin": coin}, signed=True)
        return rows

    async def positions(self, category: str, *, symbol: str | None = None,
                        settle_coin: str | None = None) -> list[dict[str, Any]]:
        """``/v5/position/list`` (all pages)."""
        rows: list[dict[str, Any]] = []
        for coin in _settle_coins(category, symbol, settle_coin):
            rows += await self.get_paged(R.POSITIONS, {"category": category, "symbol": symbol,
                                                       "settleCoin": coin, "limit": 200}, signed=True)
        return rows

    async def wallet_balance(self, account_type: str = "UNIFIED", coin: str | None = None) -> dict[str, Any]:
        """``result.list[0]`` of ``/v5/account/wallet-balance`` (``totalEquity``, ..., ``coin: [...]``)."""
        rows = _list(await self.get(R.WALLET, {"accountType": account_type, "coin": coin}, signed=True), R.WALLET)
        return rows[0] if rows and isinstance(rows[0], dict) else {}

    async def executions(self, category: str, *, symbol: str | None = None, start_time: int | None = None,
                         limit: int = 100) -> list[dict[str, Any]]:
        """``/v5/execution/list`` (all pages, newest first)."""
        return await self.get_paged(R.EXECUTIONS, {"category": category, "symbol": symbol,
                                                   "startTime": start_time, "limit": limit}, signed=True)


def _settle_coins(category: str, narrowed: str | None, settle_coin: str | None) -> tuple[str | None, ...]:
    """Linear reads of the whole account need a settle coin on Bybit: ask for USDT and USDC in turn."""
    if settle_coin is not None or narrowed or category != "linear":
        return (settle_coin,)
    return ("USDT", "USDC")


def _list(result: Any, path: str) -> list[Any]:
    rows = result.get("list") if isinstance(result, dict) else None
    if not isinstance(rows, list):
        raise RestError(path, f"the result has no list: {_short(str(result))!r}")
    return rows


def _retryable(exc: RestError) -> bool:
    if isinstance(exc, RestUnavailableError | RateLimitError):
        return True
    if exc.code is not None:
        return exc.code in R.RETRYABLE_CODES
    return exc.status is not None and exc.status >= 500


def _short(text: str, n: int = 200) -> str:
    text = text.strip()
    return text if len(text) <= n else text[:n] + "…"
