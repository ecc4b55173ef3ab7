"""The transport's direct frame path: order kept across fragmented messages, and the fallback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve

from rxbybit.protocol import Event, Trades
from rxbybit.transport import Connection


def trade_frame(i: int) -> str:
    return orjson.dumps({"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": i, "data": [
        {"T": i, "s": "BTCUSDT", "S": "Buy", "v": "0.001", "p": f"{60000 + i}.5", "L": "PlusTick",
         "i": f"t-{i}", "BT": False, "seq": i}]}).decode()


@pytest.fixture
async def fragmenting_server() -> AsyncIterator[str]:
    """Acks a subscribe, then sends trades 0-4 whole, trade 5 in three fragments, trades 6-9 whole."""

    async def handler(ws: ServerConnection) -> None:
        async for msg in ws:
            req = orjson.loads(msg)
            if req.get("op") != "subscribe":
                continue
            await ws.send(orjson.dumps({"success": True, "ret_msg": "", "conn_id": "t", "req_id": req["req_id"],
                                        "op": "subscribe"}).decode())
            for i in range(10):
                text = trade_frame(i)
                if i == 5:
                    await ws.send([text[:10], text[10:30], text[30:]])  # a fragmented message
                else:
                    await ws.send(text)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v5/public/linear"


async def stream_trades(url: str, direct: bool, fail_on: tuple[int, ...] = ()) -> tuple[list[int], Connection]:
    """Subscribe the fragmenting server's trades until trade 9 arrives; ``fail_on`` trades make the
    handler raise (a bug downstream). Returns the trade numbers handled and the closed connection."""
    got: list[int] = []
    done = asyncio.Event()

    def on_event(event: Event) -> None:
        if not isinstance(event, Trades):
            return
        if event.ts in fail_on:
            raise RuntimeError("bug downstream")
        got.append(event.ts)
        if event.ts == 9:
            done.set()

    conn = Connection(url, "linear", on_event=on_event)
    conn.direct = direct
    conn.subscribe(["publicTrade.BTCUSDT"])
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await conn.close()
    return got, conn


@pytest.mark.parametrize("direct", [True, False])
async def test_messages_arrive_in_order_whatever_the_framing(fragmenting_server: str, direct: bool) -> None:
    got, conn = await stream_trades(fragmenting_server, direct)
    assert got == list(range(10))
    assert conn.stats.messages >= 11  # the ack and ten trades, whichever path carried them


@pytest.mark.parametrize("direct", [True, False])
async def test_an_error_while_handling_a_frame_does_not_take_the_socket_down(fragmenting_server: str,
                                                                           direct: bool) -> None:
    got, conn = await stream_trades(fragmenting_server, direct, fail_on=(2, 7))  # either side of the fragments
    assert got == [0, 1, 3, 4, 5, 6, 8, 9]
    assert conn.stats.reconnects == 0
