"""Order entry over Bybit's WS trade API (``/v5/trade``): awaitables, observables and shared streams.

Requests are correlated by ``reqId``; each has a deadline after which it fails with
:class:`~rxbybit.errors.OrderStatusUnknownError` carrying the ``orderLinkId`` so the caller can
reconcile from the ``orders()`` stream. A dropped connection fails every pending request at once.
A create is never retried silently (that could duplicate an order); an ``orderLinkId`` is
generated when the caller gives none.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import reactivex as rx

from ..errors import ConnectionClosedError, OrderStatusUnknownError, TradeError
from ..protocol import requests
from ..protocol.events import AuthResult, Event, TradeResponse
from ..protocol.limits import DEFAULT_RECV_WINDOW_MS
from ..transport import Connection
from .pool import ConnectionPool
from .stream import Stream
from .streams import Fanout

_CAMEL = re.compile(r"_([a-z])")


def _camel(name: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


def _exact(value: Any) -> Any:
    """Order values go to the exchange as exact strings."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, Mapping, list)):
        return value
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest text that round-trips
    raise TypeError(f"unsupported order value {value!r} ({type(value).__name__}); use str or Decimal")


def order_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Bybit's camelCase order params from snake_case (or camelCase) keyword arguments."""
    return {_camel(k): _exact(v) for k, v in params.items() if v is not None}


def new_order_link_id() -> str:
    """A fresh client order id: 27 characters, within ``limits.MAX_ORDER_LINK_ID_LEN``."""
    return "rx-" + uuid.uuid4().hex[:24]


@dataclass(frozen=True, slots=True)
class OrderAck:
    """Bybit accepted a request (not a fill: the outcome comes on ``orders()``/``executions()``)."""

    op: str
    order_id: str
    order_link_id: str
    req_id: str
    rate_limit: int | None
    rate_limit_remaining: int | None
    rate_limit_reset_ms: int | None
    response: TradeResponse


@dataclass(frozen=True, slots=True)
class BatchItemResult:
    """One order of a batch: Bybit's per-item ``code``/``msg`` and ids."""

    code: int
    message: str
    order_id: str
    order_link_id: str
    data: Mapping[str, Any]

    @property
    def ok(self) -> bool:
        """True when this item was accepted."""
        return self.code == 0


@dataclass(frozen=True, slots=True)
class BatchAck:
    """A batch reply: the top-level ack and each item's own result (items can fail alone)."""

    op: str
    req_id: str
    items: tuple[BatchItemResult, ...]
    response: TradeResponse


class TradeClient:
    """Order entry for one :class:`~rxbybit.client.Bybit` client (``bybit.trade``): the trade socket
    comes from the client's connection pool."""

    def __init__(self, pool: ConnectionPool, *, timeout: float = 5.0,
                 recv_window_ms: int = DEFAULT_RECV_WINDOW_MS) -> None:
        pool.require_credentials("the trade API")
        self._pool = pool
        self.timeout = timeout
        """Seconds each request may wait for its reply before its status is unknown."""
        self.recv_window_ms = recv_window_ms
        self._pending: dict[str, tuple[asyncio.Future[TradeResponse], str, str | None]] = {}
        self._conn: Connection | None = None
        self._responses: Fanout[TradeResponse] = Fanout("trade.responses", _nothing, _nothing,
                                                        provenance=pool.provenance)
        self._errors: Fanout[Exception] = Fanout("trade.errors", _nothing, _nothing, provenance=pool.provenance)
        self.check: Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]] | None = None
        """Optional check of ``order.create``/``order.amend`` bodies before sending (``Bybit.check_orders``)."""

    @property
    def responses(self) -> Stream[TradeResponse]:
        """Every trade API reply, whoever sent the request (fire-and-forget users listen here)."""
        return self._responses.observable

    @property
    def errors(self) -> Stream[Exception]:
        """Every failed request: :class:`TradeError` and :class:`OrderStatusUnknownError`."""
        return self._errors.observable

    @property
    def pending(self) -> int:
        """Requests waiting for a reply."""
        return len(self._pending)

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._pool.connection("trade", on_event=self._on_event, on_disconnect=self._on_disconnect)
        return self._conn

    async def connect(self, timeout: float | None = 10.0) -> None:
        """Open and authenticate the trade socket now, to save that time on the first order."""
        await self._connection().wait_ready(timeout)

    async def close(self) -> None:
        """Close the trade socket; pending requests fail with a clear error."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            self._pool.discard("trade", conn)
            await conn.close()
        self._fail_all("the client was closed")

    def __repr__(self) -> str:
        return f"<TradeClient network={self._pool.network_name} pending={self.pending}>"

    # ------------------------------------------------------------------ requests

    async def create_order(self, **params: Any) -> OrderAck:
        """Place an order: ``create_order(category="linear", symbol="BTCUSDT", side="Buy",
        order_type="Limit", qty="0.01", price="60000")``. Keyword names may be snake_case."""
        body = order_params(params)
        body.setdefault("orderLinkId", new_order_link_id())
        if self.check is not None:
            body = await self.check("order.create", body)
        return self._ack(await self.request("order.create", body))

    async def amend_order(self, **params: Any) -> OrderAck:
        """Amend an open order (by ``order_id`` or ``order_link_id``)."""
        body = order_params(params)
        if self.check is not None:
            body = await self.check("order.amend", body)
        return self._ack(await self.request("order.amend", body))

    async def cancel_order(self, **params: Any) -> OrderAck:
        """Cancel an open order (by ``order_id`` or ``order_link_id``)."""
        return self._ack(await self.request("order.cancel", order_params(params)))

    async def create_orders(self, category: str, orders: Sequence[Mapping[str, Any]]) -> BatchAck:
        """Place up to 20 orders (10 on spot) in one request; each item succeeds or fails alone."""
        items = [order_params(o) for o in orders]
        for item in items:
            item.setdefault("orderLinkId", new_order_link_id())
        return self._batch(await self.request("order.create-batch", items, category=category))

    async def amend_orders(self, category: str, orders: Sequence[Mapping[str, Any]]) -> BatchAck:
        """Amend several orders in one request."""
        return self._batch(await self.request("order.amend-batch", [order_params(o) for o in orders],
                                              category=category))

    async def cancel_orders(self, category: str, orders: Sequence[Mapping[str, Any]]) -> BatchAck:
        """Cancel several orders in one request."""
        return self._batch(await self.request("order.cancel-batch", [order_params(o) for o in orders],
                                              category=category))

    def submit(self, op: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]],
               category: str | None = None) -> Stream[TradeResponse]:
        """The same request as an observable (one value, or an error); sent on subscribe."""
        return Stream.wrap(
            rx.defer(lambda _: rx.from_future(asyncio.ensure_future(self.request(op, params, category=category)))),
            self._pool.provenance,
        )

    async def request(
        self, op: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]], *, category: str | None = None,
        timeout: float | None = None,
    ) -> TradeResponse:
        """Send one raw trade request and wait for its reply (``retCode`` 0), else raise."""
        deadline = self.timeout if timeout is None else timeout
        if op not in requests.TRADE_OPS:
            raise ValueError(f"unknown trade op {op!r}; expected one of {', '.join(requests.TRADE_OPS)}")
        req_id = requests.next_req_id("rxt")
        link = _link_id(params)
        loop = asyncio.get_running_loop()
        started = loop.time()
        conn = self._connection()
        try:
            await conn.wait_ready(deadline)
        except TimeoutError:
            raise self._unknown(op, "the trade connection did not open in time", req_id, link) from None
        # built after the socket is ready, so the timestamp is fresh for Bybit's recv-window check
        frame = requests.trade(op, params, req_id=req_id, category=category, recv_window_ms=self.recv_window_ms).frame
        future: asyncio.Future[TradeResponse] = loop.create_future()
        self._pending[req_id] = (future, op, link)
        try:
            await conn.send_text(frame)
            remaining = max(0.0, deadline - (loop.time() - started))
            response = await asyncio.wait_for(asyncio.shield(future), remaining)
        except TimeoutError:
            raise self._unknown(op, f"no reply within {deadline} s", req_id, link) from None
        except (ConnectionClosedError, OSError) as exc:
            raise self._unknown(op, f"connection lost: {exc}", req_id, link) from None
        finally:
            self._pending.pop(req_id, None)
        if not response.ok:
            error = TradeError(op, response.ret_code, response.ret_msg, req_id, link)
            self._errors.emit(error)
            raise error
        return response

    def _unknown(self, op: str, reason: str, req_id: str, link: str | None) -> OrderStatusUnknownError:
        error = OrderStatusUnknownError(op, reason, req_id, link)
        self._errors.emit(error)
        return error

    # ------------------------------------------------------------------ replies

    def _on_event(self, event: Event) -> None:
        if isinstance(event, AuthResult):
            return
        if not isinstance(event, TradeResponse):
            return
        self._responses.emit(event)
        entry = self._pending.get(event.req_id or "")
        if entry is not None and not entry[0].done():
            entry[0].set_result(event)

    def _on_disconnect(self, conn: Connection) -> None:
        self._fail_all("the trade connection dropped")

    def _fail_all(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        for future, _op, _link in pending.values():
            if not future.done():
                future.set_exception(ConnectionClosedError(reason))

    @staticmethod
    def _ack(response: TradeResponse) -> OrderAck:
        data = response.data
        return OrderAck(
            response.op, str(data.get("orderId", "")), str(data.get("orderLinkId", "")), response.req_id or "",
            response.rate_limit, response.rate_limit_remaining, response.rate_limit_reset_ms, response,
        )

    @staticmethod
    def _batch(response: TradeResponse) -> BatchAck:
        rows = list(response.data.get("list") or [])
        codes = list(response.ret_ext_info.get("list") or [])
        items = []
        for i, row in enumerate(rows):
            info = codes[i] if i < len(codes) else {}
            items.append(BatchItemResult(
                int(info.get("code", 0)), str(info.get("msg", "OK")), str(row.get("orderId", "")),
                str(row.get("orderLinkId", "")), row,
            ))
        return BatchAck(response.op, response.req_id or "", tuple(items), response)


def _nothing() -> None:
    """A fan-out source that needs no start or stop."""


def _link_id(params: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str | None:
    if isinstance(params, Mapping):
        value = params.get("orderLinkId")
        return None if value is None else str(value)
    links = [str(p["orderLinkId"]) for p in params if p.get("orderLinkId")]
    return ",".join(links) or None

