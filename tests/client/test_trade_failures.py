"""How the trade client fails, against a scripted trade server on loopback.

Every failure reaches the caller as a documented type, at once when the socket says so: a
rejection without ``reqId`` fails the requests in flight, ``10019`` moves to a new socket (and a
create carrying its ``orderLinkId`` goes again there), a request that never left says so.
"""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from helpers import eventually, scaled
from websockets.asyncio.server import Server, ServerConnection, serve

import rxbybit as rb
from rxbybit.errors import (
    OrderNotSentError,
    OrderStatusUnknownError,
    TradeError,
    TradeServiceRestartingError,
)
from rxbybit.transport import exponential_backoff

Handler = Callable[["TradeServer", ServerConnection, dict[str, Any]], Any]


def reply(req: dict[str, Any], code: int = 0, msg: str = "OK") -> str:
    link = req["args"][0].get("orderLinkId", "") if req["args"] and isinstance(req["args"][0], dict) else ""
    return json.dumps({"reqId": req["reqId"], "retCode": code, "retMsg": msg, "op": req["op"],
                       "data": {"orderId": f"o-{req['reqId']}", "orderLinkId": link} if code == 0 else {},
                       "retExtInfo": {}, "header": {"X-Bapi-Limit": "10", "X-Bapi-Limit-Status": "9",
                                                    "Traceid": "t", "Timenow": "1"}, "connId": "c-1"})


@dataclass
class TradeServer:
    """A trade socket that authenticates anybody and answers requests with ``on_request``."""

    on_request: Handler
    connections: int = 0
    requests: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    held: list[tuple[ServerConnection, dict[str, Any]]] = field(default_factory=list)
    url: str = ""

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        number = self.connections
        async for raw in ws:
            req = json.loads(raw)
            op = req.get("op")
            if op == "auth":
                await ws.send(json.dumps({"retCode": 0, "retMsg": "OK", "op": "auth", "connId": f"c-{number}"}))
            elif op == "ping":
                await ws.send(json.dumps({"retCode": 0, "retMsg": "OK", "op": "pong", "data": ["1"],
                                          "connId": f"c-{number}"}))
            else:
                self.requests.append((number, req))
                result = self.on_request(self, ws, req)
                if asyncio.iscoroutine(result):
                    await result


Start = Callable[[Handler], Awaitable[TradeServer]]


@pytest.fixture
async def server_factory() -> AsyncIterator[Start]:
    """Starts scripted trade servers on 127.0.0.1; all are closed after the test."""
    servers: list[Server] = []

    async def start(on_request: Handler) -> TradeServer:
        ts = TradeServer(on_request)
        srv = await serve(ts.handler, "127.0.0.1", 0)
        servers.append(srv)
        ts.url = f"ws://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
        return ts

    yield start
    for srv in servers:
        srv.close()
        await srv.wait_closed()


def client(url: str, **kwargs: Any) -> rb.Bybit:
    options: dict[str, Any] = {"ping_interval": 5.0, "pong_timeout": 5.0,
                               "backoff": exponential_backoff(initial=0.02, maximum=0.2)}
    options.update(kwargs)
    return rb.Bybit(url, api_key="key", api_secret="secret", **options)


CREATE = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "order_type": "Limit", "qty": "0.01",
          "price": "60000"}


async def test_a_rejection_without_req_id_fails_the_requests_in_flight_at_once(server_factory: Start) -> None:
    async def permission_denied(ts: TradeServer, ws: ServerConnection, req: dict[str, Any]) -> None:
        if len(ts.requests) < 2:
            return  # the first request stays unanswered, until the rejection without reqId
        await ws.send(json.dumps({"retCode": 10005, "retMsg": "Permission denied for current apikey",
                                  "op": "auth", "connId": "c-1"}))

    ts = await server_factory(permission_denied)
    async with client(ts.url) as bybit:
        bybit.trade.timeout = 30.0
        errors: list[Exception] = []
        bybit.trade.errors.subscribe(errors.append)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        first = asyncio.ensure_future(bybit.trade.create_order(**CREATE, order_link_id="first"))
        await eventually(lambda: len(ts.requests) == 1, what="the first request at the server")
        second = asyncio.ensure_future(bybit.trade.cancel_order(category="linear", symbol="BTCUSDT",
                                                                order_link_id="second"))
        for task, link in ((first, "first"), (second, "second")):
            with pytest.raises(TradeError) as info:
                await task
            assert info.value.code == 10005 and "Permission denied" in info.value.message
            assert info.value.order_link_id == link
        assert loop.time() - t0 < scaled(5.0)  # not the 30 s deadline
        assert bybit.trade.pending == 0
        assert {type(e) for e in errors} == {TradeError} and len(errors) == 2


async def test_10019_moves_to_a_new_socket_in_flight_requests_complete_and_a_create_goes_again(
        server_factory: Start) -> None:
    async def restarting(ts: TradeServer, ws: ServerConnection, req: dict[str, Any]) -> None:
        number = ts.requests[-1][0]
        if number > 1:  # a healthy node
            await ws.send(reply(req))
            return
        if req["args"][0].get("orderLinkId") == "in-flight":
            ts.held.append((ws, req))  # in flight when the restart begins: answered later
            return
        await ws.send(reply(req, 10019, "Trade service is restarting"))
        for held_ws, held in ts.held:
            await held_ws.send(reply(held))

    ts = await server_factory(restarting)
    async with client(ts.url) as bybit:
        in_flight = asyncio.ensure_future(bybit.trade.create_order(**CREATE, order_link_id="in-flight"))
        await eventually(lambda: len(ts.requests) == 1, what="the in-flight request at the server")
        ack = await bybit.trade.create_order(**CREATE, order_link_id="retried")
        assert ack.order_link_id == "retried"
        assert (await in_flight).order_link_id == "in-flight"  # completed on the old socket
        links = [(n, r["args"][0]["orderLinkId"]) for n, r in ts.requests]
        assert links == [(1, "in-flight"), (1, "retried"), (2, "retried")]  # the same orderLinkId, sent again
        assert ts.connections == 2
        # a cancel after the move goes to the new socket at once
        await bybit.trade.cancel_order(category="linear", symbol="BTCUSDT", order_link_id="retried")
        assert ts.requests[-1][0] == 2


async def test_10019_on_a_create_without_order_link_id_is_a_typed_retryable_error(server_factory: Start) -> None:
    async def always_restarting(ts: TradeServer, ws: ServerConnection, req: dict[str, Any]) -> None:
        await ws.send(reply(req, 10019, "Trade service is restarting"))

    ts = await server_factory(always_restarting)
    async with client(ts.url) as bybit:
        with pytest.raises(TradeServiceRestartingError) as info:  # a raw create without orderLinkId: never again
            await bybit.trade.request("order.create", {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                                                       "orderType": "Market", "qty": "0.01"})
        assert info.value.retryable and info.value.code == 10019
        assert len(ts.requests) == 1
        with pytest.raises(TradeServiceRestartingError):  # with one: sent again once, refused again
            await bybit.trade.create_order(**CREATE, order_link_id="twice")
        assert [r["args"][0].get("orderLinkId") for _, r in ts.requests[1:]] == ["twice", "twice"]
        assert len({n for n, _ in ts.requests[1:]}) == 2  # on two sockets


async def test_a_socket_cut_mid_request_is_unknown_and_a_socket_that_never_opens_is_not_sent(
        server_factory: Start) -> None:
    async def cut(ts: TradeServer, ws: ServerConnection, req: dict[str, Any]) -> None:
        ws.transport.abort()

    ts = await server_factory(cut)
    async with client(ts.url) as bybit:
        with pytest.raises(OrderStatusUnknownError) as unknown:
            await bybit.trade.create_order(**CREATE, order_link_id="maybe")
        assert unknown.value.order_link_id == "maybe"
    # nothing listens: the request never leaves
    sock_server = await serve(lambda ws: ws.close(), "127.0.0.1", 0)
    port = sock_server.sockets[0].getsockname()[1]
    sock_server.close()
    await sock_server.wait_closed()
    async with client(f"ws://127.0.0.1:{port}") as bybit:
        bybit.trade.timeout = 0.5
        with pytest.raises(OrderNotSentError) as not_sent:
            await bybit.trade.create_order(**CREATE, order_link_id="never")
        assert not_sent.value.retryable and not_sent.value.order_link_id == "never"
        assert not isinstance(not_sent.value, OrderStatusUnknownError)
        assert "safe to retry" in str(not_sent.value)


async def test_a_request_never_awaited_warns_that_nothing_was_sent() -> None:
    bybit = rb.Bybit("ws://127.0.0.1:9", api_key="key", api_secret="secret")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bybit.trade.create_order(**CREATE)  # forgot the await
        gc.collect()
    messages = [str(w.message) for w in caught]
    assert any("create_order(...) was never awaited" in m and "NOT sent" in m for m in messages), messages
    assert not any("coroutine" in m and "was never awaited" in m and "NOT" not in m for m in messages)
    # awaited or run as a task it works as a coroutine
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task = asyncio.create_task(bybit.trade.create_order(**CREATE))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]
    await bybit.close()


def test_acks_have_short_reprs() -> None:
    from rxbybit.client.trade import TradeClient
    from rxbybit.protocol.decode import decode
    from rxbybit.protocol.events import TradeResponse

    event = decode(reply({"reqId": "r1", "op": "order.create", "args": [{"orderLinkId": "mine"}]}))
    assert isinstance(event, TradeResponse)
    text = repr(TradeClient._ack(event))
    assert text == "OrderAck(order.create order_id='o-r1' order_link_id='mine' limit_left=9)"
    assert "Traceid" not in text and "header" not in text
