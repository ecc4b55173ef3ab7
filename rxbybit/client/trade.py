"""Order entry over Bybit's WS trade API (``/v5/trade``): awaitables, observables and shared streams.

Requests are correlated by ``reqId``. Every failure reaches the caller as one of four types:

* :class:`~rxbybit.errors.OrderNotSentError`: the request never left (the trade socket did not open
  in time, or was gone when the request was due); nothing reached the exchange, retrying is safe;
* :class:`~rxbybit.errors.OrderStatusUnknownError`: sent, but no answer before the deadline or the
  socket dropped with the request in flight; reconcile by ``orderLinkId`` from ``orders()``;
* :class:`~rxbybit.errors.TradeError`: Bybit refused it (non-zero ``retCode``), also when the refusal
  carries no ``reqId`` (e.g. ``10005`` permission denied with ``op: auth``): it fails the requests in
  flight on that socket at once instead of leaving them to their deadline;
* :class:`~rxbybit.errors.TradeServiceRestartingError` (a ``TradeError``, ``10019``): the trade service
  is restarting. Requests in flight complete on the old socket; the client opens a new one and sends
  the refused request again there once, when that cannot duplicate anything (a create carries its
  ``orderLinkId``, which Bybit never accepts twice); otherwise, or if that fails too, this error.

plus :class:`~rxbybit.errors.AuthenticationError` when the keys are refused. A create is never
retried after it may have reached the exchange; an ``orderLinkId`` is generated when the caller
gives none. The request methods warn when their coroutine is dropped without being awaited (the
request was then never sent).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import uuid
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, ParamSpec, TypeVar

import reactivex as rx

from ..errors import (
    AuthenticationError,
    ConnectionClosedError,
    OrderNotSentError,
    OrderStatusUnknownError,
    TradeError,
    TradeServiceRestartingError,
)
from ..protocol import requests
from ..protocol.events import AuthResult, Event, TradeResponse
from ..protocol.limits import DEFAULT_RECV_WINDOW_MS
from ..transport import Connection
from .pool import ConnectionPool
from .stream import Stream
from .streams import Fanout

log = logging.getLogger("rxbybit.client")

_CAMEL = re.compile(r"_([a-z])")

SERVICE_RESTARTING: Final = 10019
"""``retCode`` of a request refused because Bybit's trade service is restarting."""

_P = ParamSpec("_P")
_T = TypeVar("_T")


class _MustAwait(Coroutine[Any, Any, _T]):
    """A request coroutine that says clearly, when dropped unawaited, that nothing was sent."""

    __slots__ = ("_coro", "_started", "_what")

    def __init__(self, coro: Coroutine[Any, Any, _T], what: str) -> None:
        self._coro = coro
        self._what = what
        self._started = False

    def send(self, value: Any) -> Any:
        self._started = True
        return self._coro.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        self._started = True
        return self._coro.throw(typ, val, tb) if val is not None else self._coro.throw(typ)

    def close(self) -> None:
        self._started = True
        self._coro.close()

    def __await__(self) -> Generator[Any, None, _T]:
        self._started = True
        return self._coro.__await__()

    def __del__(self) -> None:
        if self._started:
            return
        try:
            self._coro.close()  # instead of Python's vaguer "coroutine ... was never awaited"
            warnings.warn(f"trade.{self._what}(...) was never awaited, so the request was NOT sent: "
                          f"write `await bybit.trade.{self._what}(...)`", RuntimeWarning, stacklevel=2)
        except Exception:  # interpreter shutdown
            pass


def _must_await(fn: Callable[_P, Coroutine[Any, Any, _T]]) -> Callable[_P, Coroutine[Any, Any, _T]]:
    """Wrap a request method so that a call never awaited warns that nothing was sent."""

    @functools.wraps(fn)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> Coroutine[Any, Any, _T]:
        return _MustAwait(fn(*args, **kwargs), fn.__name__)

    return call


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
    response: TradeResponse = field(repr=False)
    """Bybit's whole reply (headers included), for whoever needs more than the ids."""

    def __repr__(self) -> str:
        limit = "" if self.rate_limit_remaining is None else f" limit_left={self.rate_limit_remaining}"
        return f"OrderAck({self.op} order_id={self.order_id!r} order_link_id={self.order_link_id!r}{limit})"


@dataclass(frozen=True, slots=True)
class BatchItemResult:
    """One order of a batch: Bybit's per-item ``code``/``msg`` and ids."""

    code: int
    message: str
    order_id: str
    order_link_id: str
    data: Mapping[str, Any] = field(repr=False)

    @property
    def ok(self) -> bool:
        """True when this item was accepted."""
        return self.code == 0

    def __repr__(self) -> str:
        outcome = "ok" if self.ok else f"code={self.code} {self.message!r}"
        return f"BatchItemResult({outcome} order_id={self.order_id!r} order_link_id={self.order_link_id!r})"


@dataclass(frozen=True, slots=True)
class BatchAck:
    """A batch reply: the top-level ack and each item's own result (items can fail alone)."""

    op: str
    req_id: str
    items: tuple[BatchItemResult, ...]
    response: TradeResponse = field(repr=False)

    def __repr__(self) -> str:
        ok = sum(1 for i in self.items if i.ok)
        return f"BatchAck({self.op} {ok}/{len(self.items)} ok items={list(self.items)!r})"


@dataclass(slots=True)
class _Request:
    """A request in flight: who waits for it and on which socket it went."""

    future: asyncio.Future[TradeResponse]
    op: str
    link: str | None
    conn: Connection


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
        self._pending: dict[str, _Request] = {}
        self._conn: Connection | None = None
        self._retiring: set[Connection] = set()  # refused with 10019: closed once their requests are answered
        self._closing: set[asyncio.Task[None]] = set()
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
        """Every failed request: :class:`TradeError` (and its :class:`TradeServiceRestartingError`),
        :class:`OrderNotSentError`, :class:`OrderStatusUnknownError` and :class:`AuthenticationError`."""
        return self._errors.observable

    @property
    def pending(self) -> int:
        """Requests waiting for a reply."""
        return len(self._pending)

    def _connection(self) -> Connection:
        if self._conn is None:
            holder: list[Connection] = []
            self._conn = self._pool.connection(
                "trade", on_event=lambda event: self._on_event(holder[0], event), on_disconnect=self._on_disconnect)
            holder.append(self._conn)
        return self._conn

    async def connect(self, timeout: float | None = 10.0) -> None:
        """Open and authenticate the trade socket now, to save that time on the first order."""
        await self._connection().wait_ready(timeout)

    async def close(self) -> None:
        """Close the trade socket; pending requests fail with a clear error."""
        conns = list(self._retiring)
        self._retiring.clear()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            self._pool.discard("trade", conn)
            conns.append(conn)
        self._fail_pending(None, ConnectionClosedError("the client was closed"))
        await asyncio.gather(*(c.close() for c in conns), *self._closing, return_exceptions=True)

    def close_now(self) -> None:
        """Close the trade sockets without awaiting (for finalizers)."""
        for conn in [*self._retiring, *([self._conn] if self._conn is not None else [])]:
            conn.close_now()
        self._retiring.clear()
        self._conn = None

    def __repr__(self) -> str:
        return f"<TradeClient network={self._pool.network_name} pending={self.pending}>"

    # ------------------------------------------------------------------ requests

    @_must_await
    async def create_order(self, **params: Any) -> OrderAck:
        """Place an order: ``create_order(category="linear", symbol="BTCUSDT", side="Buy",
        order_type="Limit", qty="0.01", price="60000")``. Keyword names may be snake_case."""
        body = order_params(params)
        body.setdefault("orderLinkId", new_order_link_id())
        if self.check is not None:
            body = await self.check("order.create", body)
        return self._ack(await self.request("order.create", body))

    @_must_await
    async def amend_order(self, **params: Any) -> OrderAck:
        """Amend an open order (by ``order_id`` or ``order_link_id``)."""
        body = order_params(params)
        if self.check is not None:
            body = await self.check("order.amend", body)
        return self._ack(await self.request("order.amend", body))

    @_must_await
    async def cancel_order(self, **params: Any) -> OrderAck:
        """Cancel an open order (by ``order_id`` or ``order_link_id``)."""
        return self._ack(await self.request("order.cancel", order_params(params)))

    @_must_await
    async def create_orders(self, category: str, orders: Sequence[Mapping[str, Any]]) -> BatchAck:
        """Place up to 20 orders (10 on spot) in one request; each item succeeds or fails alone."""
        items = [order_params(o) for o in orders]
        for item in items:
            item.setdefault("orderLinkId", new_order_link_id())
        return self._batch(await self.request("order.create-batch", items, category=category))

    @_must_await
    async def amend_orders(self, category: str, orders: Sequence[Mapping[str, Any]]) -> BatchAck:
        """Amend several orders in one request."""
        return self._batch(await self.request("order.amend-batch", [order_params(o) for o in orders],
                                              category=category))

    @_must_await
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

    @_must_await
    async def request(
        self, op: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]], *, category: str | None = None,
        timeout: float | None = None,
    ) -> TradeResponse:
        """Send one raw trade request and wait for its reply (``retCode`` 0), else raise one of the
        error types in the module docs."""
        deadline = self.timeout if timeout is None else timeout
        if op not in requests.TRADE_OPS:
            raise ValueError(f"unknown trade op {op!r}; expected one of {', '.join(requests.TRADE_OPS)}")
        link = _link_id(params)
        loop = asyncio.get_running_loop()
        started = loop.time()
        resend = _may_resend(op, params)
        while True:
            req_id = requests.next_req_id("rxt")
            response = await self._send_once(op, params, category, req_id, link, deadline,
                                             deadline - (loop.time() - started))
            if response.ok:
                return response
            if response.ret_code == SERVICE_RESTARTING:
                if resend and deadline - (loop.time() - started) > 0:
                    resend = False  # once: a second refusal goes to the caller
                    continue
                raise self._emit(TradeServiceRestartingError(op, response.ret_code, response.ret_msg, req_id, link))
            raise self._emit(TradeError(op, response.ret_code, response.ret_msg, req_id, link))

    async def _send_once(self, op: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]],
                         category: str | None, req_id: str, link: str | None, deadline: float,
                         remaining: float) -> TradeResponse:
        """One attempt on the current trade socket: its reply, or a typed error."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        conn = self._connection()
        try:
            await conn.wait_ready(max(0.0, remaining))
        except TimeoutError:
            raise self._emit(OrderNotSentError(
                op, f"the trade connection did not open within {deadline} s", req_id, link)) from None
        except AuthenticationError as exc:
            raise self._emit(exc) from None
        if not conn.can_send():
            raise self._emit(OrderNotSentError(op, "the trade connection closed before the request was sent",
                                               req_id, link))
        # built after the socket is ready, so the timestamp is fresh for Bybit's recv-window check
        frame = requests.trade(op, params, req_id=req_id, category=category, recv_window_ms=self.recv_window_ms).frame
        future: asyncio.Future[TradeResponse] = loop.create_future()
        self._pending[req_id] = _Request(future, op, link, conn)
        try:
            await conn.send_text(frame)
            left = max(0.0, remaining - (loop.time() - started))
            response = await asyncio.wait_for(asyncio.shield(future), left)
        except TimeoutError:
            raise self._emit(OrderStatusUnknownError(op, f"no reply within {deadline} s", req_id, link)) from None
        except TradeError as exc:  # a refusal without reqId answered it
            raise self._emit(TradeError(op, exc.code, exc.message, req_id, link)) from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the socket went while the request was (maybe) on its way
            raise self._emit(OrderStatusUnknownError(op, f"connection lost: {exc}", req_id, link)) from None
        finally:
            self._pending.pop(req_id, None)
            self._close_if_drained(conn)
        if response.ret_code == SERVICE_RESTARTING:
            self._retire(conn)
        return response

    def _emit(self, error: Exception) -> Exception:
        self._errors.emit(error)
        return error

    # ------------------------------------------------------------------ connections

    def _retire(self, conn: Connection) -> None:
        """Bybit's trade service behind ``conn`` is restarting: new requests go to a new socket;
        ``conn`` closes once the requests still in flight on it are answered."""
        if self._conn is conn:
            self._conn = None
            self._pool.discard("trade", conn)
            self._retiring.add(conn)
            log.warning("trade: Bybit's trade service is restarting (10019); moving to a new trade connection")
        self._close_if_drained(conn)

    def _close_if_drained(self, conn: Connection) -> None:
        if conn not in self._retiring or any(r.conn is conn for r in self._pending.values()):
            return
        self._retiring.discard(conn)
        task = asyncio.get_running_loop().create_task(conn.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # ------------------------------------------------------------------ replies

    def _on_event(self, conn: Connection, event: Event) -> None:
        if isinstance(event, AuthResult):
            if not event.success and event.ret_code:  # a refusal after auth, without reqId
                self._fail_pending(conn, TradeError("auth", event.ret_code, event.message))
            return
        if not isinstance(event, TradeResponse):
            return
        self._responses.emit(event)
        if event.req_id is None:
            if not event.ok:  # which request it answers is unknown: every one in flight on this socket
                self._fail_pending(conn, TradeError(event.op, event.ret_code, event.ret_msg))
            return
        entry = self._pending.get(event.req_id)
        if entry is not None and not entry.future.done():
            entry.future.set_result(event)

    def _on_disconnect(self, conn: Connection) -> None:
        self._fail_pending(conn, ConnectionClosedError("the trade connection dropped"))

    def _fail_pending(self, conn: Connection | None, error: Exception) -> None:
        """Fail the requests in flight on ``conn`` (None: on every socket) with ``error``."""
        for req_id, entry in list(self._pending.items()):
            if conn is None or entry.conn is conn:
                if conn is None:
                    del self._pending[req_id]
                if not entry.future.done():
                    entry.future.set_exception(error)

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


def _may_resend(op: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> bool:
    """Whether a request Bybit refused unprocessed (10019) may go again without risking a duplicate:
    anything but a create lacking an ``orderLinkId`` (Bybit never accepts one twice)."""
    if not op.startswith("order.create"):
        return True
    items = [params] if isinstance(params, Mapping) else list(params)
    return bool(items) and all(item.get("orderLinkId") for item in items)


def _link_id(params: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str | None:
    if isinstance(params, Mapping):
        value = params.get("orderLinkId")
        return None if value is None else str(value)
    links = [str(p["orderLinkId"]) for p in params if p.get("orderLinkId")]
    return ",".join(links) or None

