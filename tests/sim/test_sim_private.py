"""Private pushes, auth and the WS trade API of the simulator, over plain websockets."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from sim_wsclient import WsClient

from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET, Simulator


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def order(req_id: Any, op: str = "order.create", **params: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {"header": {"X-BAPI-TIMESTAMP": str(now_ms())}, "op": op, "args": [params]}
    if req_id is not None:
        frame["reqId"] = req_id
    return frame


async def reply(c: WsClient, req_id: Any) -> Any:
    return await c.until(lambda m: m.get("reqId") == req_id)


async def test_auth_accepts_the_demo_key_and_rejects_bad_ones_in_bybits_shapes(client: Any) -> None:
    async with client("/v5/private") as c:
        bad = await c.auth(secret="wrong-secret")
        assert bad["success"] is False and bad["op"] == "auth" and DEMO_API_SECRET not in str(bad)
        expired = await c.auth(expires_in_ms=-1_000)
        assert expired["success"] is False and expired["ret_msg"] == "Params Error"
        unknown = await c.auth(key="NOPE")
        assert unknown["success"] is False
        ok = await c.auth(req_id="10001")
        assert ok == {"req_id": "10001", "success": True, "ret_msg": "", "op": "auth", "conn_id": ok["conn_id"]}
        await c.send({"req_id": "p", "op": "ping"})
        pong = await c.recv()
        assert pong["op"] == "pong" and pong["req_id"] == "p" and pong["args"][0].isdigit()
    async with client("/v5/trade") as t:
        bad = await t.auth(secret="wrong-secret")
        assert bad["retCode"] == 10004 and bad["op"] == "auth"
        ok = await t.auth()
        assert ok["retCode"] == 0 and ok["retMsg"] == "OK" and "reqId" not in ok
        again = await t.auth()
        assert again["retCode"] == 20001


async def test_private_subscribe_needs_auth_and_refuses_mixed_families(client: Any) -> None:
    async with client("/v5/private") as c:
        await c.send({"op": "subscribe", "args": ["order"]})
        assert (await c.recv())["success"] is False
        await c.auth()
        await c.send({"op": "subscribe", "args": ["order", "order.linear"]})
        err = await c.recv()
        assert err["success"] is False and "topic:order.linear" in err["ret_msg"]
        await c.send({"req_id": "s", "op": "subscribe", "args": ["order", "execution", "position", "wallet"]})
        ack = await c.recv()
        assert ack == {"req_id": "s", "success": True, "ret_msg": "", "op": "subscribe", "conn_id": ack["conn_id"]}


async def test_limit_order_rests_in_the_public_book_and_cancels(sim: Simulator, client: Any) -> None:
    async with client("/v5/private") as p, client("/v5/trade") as t, client("/v5/public/linear") as pub:
        await p.auth()
        await p.send({"op": "subscribe", "args": ["order.linear", "position", "wallet"]})
        await p.recv()
        await t.auth()
        await pub.send({"op": "subscribe", "args": ["orderbook.1000.BTCUSDT"]})
        await pub.until(lambda m: m.get("topic") == "orderbook.1000.BTCUSDT")
        _, bids, _ = sim.published_book("linear", "orderbook.1000.BTCUSDT")
        price = f"{bids[0][0] - 50:.2f}"  # below the touch: rests (linear BTCUSDT writes two decimals)
        await t.send(order("c1", category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit",
                           qty="0.010", price=price, orderLinkId="mine-1"))
        ack = await reply(t, "c1")
        assert ack["retCode"] == 0 and ack["op"] == "order.create" and ack["data"]["orderLinkId"] == "mine-1"
        assert {"X-Bapi-Limit", "X-Bapi-Limit-Status", "X-Bapi-Limit-Reset-Timestamp", "Traceid", "Timenow"} \
            <= set(ack["header"])
        new = await p.until(lambda m: m.get("topic") == "order.linear")
        row = new["data"][0]
        assert row["orderStatus"] == "New" and row["orderId"] == ack["data"]["orderId"] and row["price"] == price
        pos = await p.until(lambda m: m.get("topic") == "position")
        assert pos["data"][0]["symbol"] == "BTCUSDT" and pos["data"][0]["size"] in ("0", "0.000")
        await p.until(lambda m: m.get("topic") == "wallet")
        await pub.until(lambda m: m.get("topic") == "orderbook.1000.BTCUSDT"
                        and any(level[0] == price for level in m["data"]["b"]), what="the order's level in the book")
        _, bids, _ = sim.published_book("linear", "orderbook.1000.BTCUSDT")
        level = dict(bids)[float(price)]
        assert level >= 0.010
        await t.send(order("c2", "order.cancel", category="linear", symbol="BTCUSDT", orderLinkId="mine-1"))
        assert (await reply(t, "c2"))["retCode"] == 0
        done = await p.until(lambda m: m.get("topic") == "order.linear")
        assert done["data"][0]["orderStatus"] == "Cancelled" and done["data"][0]["cancelType"] == "CancelByUser"
        await t.send(order("c3", "order.cancel", category="linear", symbol="BTCUSDT", orderLinkId="mine-1"))
        assert (await reply(t, "c3"))["retCode"] == 110001


async def test_market_order_fills_with_executions_position_wallet_and_a_public_trade(sim: Simulator,
                                                                                  client: Any) -> None:
    async with client("/v5/private") as p, client("/v5/trade") as t, client("/v5/public/linear") as pub:
        await p.auth()
        await p.send({"op": "subscribe", "args": ["order", "execution", "execution.fast", "position", "wallet"]})
        await p.recv()
        await pub.send({"op": "subscribe", "args": ["publicTrade.ETHUSDT"]})
        await pub.recv()
        await t.auth()
        await t.send(order(7, category="linear", symbol="ETHUSDT", side="Buy", orderType="Market", qty="2.00"))
        ack = await reply(t, 7)
        assert ack["retCode"] == 0 and ack["reqId"] == 7
        oid = ack["data"]["orderId"]
        await p.until(lambda m: m.get("topic") == "wallet")
        pushes = {m["topic"]: m for m in p.seen if isinstance(m, dict) and "topic" in m}
        filled = pushes["order"]["data"][0]
        assert filled["orderStatus"] == "Filled" and filled["cumExecQty"] == "2.00" and filled["orderId"] == oid
        execs = pushes["execution"]
        qty = sum(Decimal(e["execQty"]) for e in execs["data"])
        assert qty == Decimal("2.00") and all(e["isMaker"] is False for e in execs["data"])
        fast = pushes["execution.fast"]
        assert "id" not in fast and fast["data"][0]["orderId"] == oid
        pos = pushes["position"]
        assert pos["data"][0]["side"] == "Buy" and pos["data"][0]["size"] == "2.00"
        usdt = next(c for c in pushes["wallet"]["data"][0]["coin"] if c["coin"] == "USDT")
        assert Decimal(usdt["walletBalance"]) < Decimal(100_000)  # the taker fee was paid
        exec_ids = {e["execId"] for e in execs["data"]}
        public = await pub.until(lambda m: m.get("topic") == "publicTrade.ETHUSDT"
                                 and any(x["i"] in exec_ids for x in m["data"]))
        mine = [x for x in public["data"] if x["i"] in exec_ids]
        assert all(x["S"] == "Buy" for x in mine)


async def test_trade_api_error_codes() -> None:
    async with Simulator(seed=1, symbols=("BTCUSDT",), rate_limit=3) as sim:
        from websockets.asyncio.client import connect

        async with connect(sim.url + "/v5/trade") as ws:
            t = WsClient(ws)
            await t.send(order("x0", category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="1"))
            assert (await reply(t, "x0"))["retCode"] == 10005  # not authenticated (10003 is "too many sessions" here)
            await t.auth()
            base = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit"}
            await t.send(order("x1", **base, qty="0.001", price="60000.05"))
            assert (await reply(t, "x1"))["retCode"] == 110003
            await t.send(order("x2", **base, qty="abc", price="60000"))
            assert (await reply(t, "x2"))["retCode"] == 10001
            await t.send(order("x3", **base, qty="500", price="60000"))
            r = await reply(t, "x3")
            assert r["retCode"] == 110007 and r["data"] == {}
            await t.send(order("x3", **base, qty="0.001", price="60000"))
            assert (await reply(t, "x3"))["retCode"] == 20006
            stale = order("x4", **base, qty="0.001", price="60000")
            stale["header"]["X-BAPI-TIMESTAMP"] = str(now_ms() - 60_000)
            await t.send(stale)
            assert (await reply(t, "x4"))["retCode"] == 10002
            await t.send(order("x5", "order.explode", **base))
            assert (await reply(t, "x5"))["retCode"] == 10404
            await t.send(order("x6", **{**base, "category": "futures"}, qty="0.001", price="60000"))
            assert (await reply(t, "x6"))["retCode"] == 10404
            codes = []
            for i in range(4):
                await t.send(order(f"r{i}", "order.amend", category="linear", symbol="BTCUSDT", orderId="none",
                                   price="1"))
                codes.append((await reply(t, f"r{i}"))["retCode"])
            assert 10006 in codes and codes[0] == 110001


async def test_batch_create_reports_each_item(client: Any) -> None:
    async with client("/v5/trade") as t:
        await t.auth()
        frame = {"reqId": "b1", "header": {"X-BAPI-TIMESTAMP": now_ms()}, "op": "order.create-batch",
                 "args": [{"category": "spot", "request": [
                     {"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001", "price": "1000",
                      "orderLinkId": "ok-1"},
                     {"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001", "price": "-5",
                      "orderLinkId": "bad-1"},
                 ]}]}
        await t.send(frame)
        r = await reply(t, "b1")
    assert r["retCode"] == 0 and r["op"] == "order.create-batch"
    first, second = r["data"]["list"]
    assert first["orderId"] and first["orderLinkId"] == "ok-1" and first["createAt"]
    assert second["orderId"] == "" and second["orderLinkId"] == "bad-1"
    assert [x["code"] for x in r["retExtInfo"]["list"]] == [0, 110003]


async def test_time_in_force_rules(sim: Simulator, client: Any) -> None:
    async with client("/v5/private") as p, client("/v5/trade") as t:
        await p.auth()
        await p.send({"op": "subscribe", "args": ["order.spot"]})
        await p.recv()
        await t.auth()
        market = sim.markets["spot"]["ETHUSDT"]
        above_ask = market.inst.px((market.book.best("Sell") or 0) * 101 // 100)  # surely crosses
        below_bid = market.inst.px((market.book.best("Buy") or 0) * 99 // 100)  # surely cannot fill
        base = {"category": "spot", "symbol": "ETHUSDT", "side": "Buy", "orderType": "Limit"}
        await t.send(order("po", **base, price=above_ask, qty="0.010", timeInForce="PostOnly"))
        assert (await reply(t, "po"))["retCode"] == 0
        po = await p.until(lambda m: m.get("topic") == "order.spot")
        assert po["data"][0]["orderStatus"] == "Cancelled"
        assert po["data"][0]["rejectReason"] == "EC_PostOnlyWillTakeLiquidity"
        await t.send(order("fok", **base, price=below_bid, qty="5", timeInForce="FOK"))
        assert (await reply(t, "fok"))["retCode"] == 0
        fok = await p.until(lambda m: m.get("topic") == "order.spot")
        assert fok["data"][0]["orderStatus"] == "Cancelled" and Decimal(fok["data"][0]["cumExecQty"]) == 0
        await t.send(order("ioc", **base, price=above_ask, qty="0.5", timeInForce="IOC"))
        assert (await reply(t, "ioc"))["retCode"] == 0
        ioc = await p.until(lambda m: m.get("topic") == "order.spot")
        assert ioc["data"][0]["orderStatus"] == "Filled" and ioc["data"][0]["feeCurrency"] == "ETH"


async def test_spot_v3_private_gets_order_and_ticket_frames(client: Any) -> None:
    async with client("/spot/private/v3") as v3, client("/v5/trade") as t:
        await v3.auth()
        await v3.send({"req_id": "1", "op": "subscribe", "args": ["order", "ticketInfo", "outboundAccountInfo"]})
        ack = await v3.recv()
        assert ack["success"] is True and ack["ret_msg"] == "subscribe"
        await t.auth()
        await t.send(order("s1", category="spot", symbol="BTCUSDT", side="Sell", orderType="Market", qty="0.010000"))
        assert (await reply(t, "s1"))["retCode"] == 0
        ticket = await v3.until(lambda m: m.get("topic") == "ticketInfo")
        assert isinstance(ticket["ts"], str) and ticket["data"][0]["S"] == "SELL"
        o = await v3.until(lambda m: m.get("topic") == "order")
        assert o["data"][0]["e"] == "order" and o["data"][0]["s"] == "BTCUSDT"
        acct = await v3.until(lambda m: m.get("topic") == "outboundAccountInfo")
        btc = next(b for b in acct["data"][0]["B"] if b["a"] == "BTC")
        assert Decimal(btc["f"]) == Decimal("0.99")


def test_demo_credentials_are_exported() -> None:
    assert len(DEMO_API_KEY) == 18 and len(DEMO_API_SECRET) == 36
    assert DEMO_API_SECRET not in repr(Simulator())
