"""decode() against the example frames of the protocol reference (docs/bybit-v5-websocket.md)."""

from __future__ import annotations

import pytest

from rxbybit.protocol import (
    AuthResult,
    BookTicker,
    BookUpdate,
    Klines,
    Malformed,
    Pong,
    PrivateUpdate,
    ServerError,
    SubscribeAck,
    SubscribeFailure,
    TickerUpdate,
    TradeResponse,
    Trades,
    Unknown,
    decode,
)

# --------------------------------------------------------------------------- pongs (§4)

PONGS = [
    # public spot (req_id echoed)
    ('{"success":true,"ret_msg":"pong","conn_id":"0970e817","req_id":"7","op":"ping"}', None, "7", "0970e817"),
    # public linear / inverse: req_id always present, "" when none was sent
    ('{"success":true,"ret_msg":"pong","conn_id":"465772b1","req_id":"","op":"ping"}', None, None, "465772b1"),
    # public option / spread
    ('{"args":["1672916271846"],"op":"pong"}', 1672916271846, None, None),
    # private
    ('{"req_id":"test","op":"pong","args":["1675418560633"],"conn_id":"cfcb4ocs"}', 1675418560633, "test", "cfcb4ocs"),
    # trade
    ('{"retCode":0,"retMsg":"OK","op":"pong","data":["1711002002529"],"connId":"cnt5leec"}', 1711002002529, None,
     "cnt5leec"),
    # legacy spot v3: numeric timestamp
    ('{"op":"pong","args":[1661741630642],"req_id":"100001","conn_id":"706b870c"}', 1661741630642, "100001",
     "706b870c"),
    # legacy spot v1
    ('{"pong":1535975085152}', 1535975085152, None, None),
]


@pytest.mark.parametrize(("text", "ts", "req_id", "conn_id"), PONGS)
def test_pong_of_every_endpoint(text: str, ts: int | None, req_id: str | None, conn_id: str | None) -> None:
    assert decode(text) == Pong(ts, req_id, conn_id)


# --------------------------------------------------------------------------- acks (§5.3, §5.5, §9.1)


def test_three_success_ack_shapes_and_option_lists() -> None:
    private = decode('{"success": true, "ret_msg": "", "op": "subscribe", "conn_id": "cejreassvfrsfvb9v1a0-2m"}')
    assert private == SubscribeAck("subscribe", None, "cejreassvfrsfvb9v1a0-2m")
    spot = decode('{"success": true, "ret_msg": "subscribe", "conn_id": "2324d924", "req_id": "10001", '
                  '"op": "subscribe"}')
    assert spot == SubscribeAck("subscribe", "10001", "2324d924")
    linear = decode('{"success": true, "ret_msg": "", "conn_id": "3cd84cb1", "req_id": "", "op": "subscribe"}')
    assert linear == SubscribeAck("subscribe", "", "3cd84cb1")
    unsub = decode('{"success":true,"ret_msg":"","conn_id":"c0c928a4","req_id":"","op":"unsubscribe"}')
    assert isinstance(unsub, SubscribeAck) and unsub.op == "unsubscribe"
    option = decode('{"success": true, "conn_id": "aa01", "data": {"failTopics": [], "successTopics": '
                    '["orderbook.100.BTC-6JAN23-18000-C"]}, "type": "COMMAND_RESP"}')
    # no op in the reply: op "" (the subscription machine matches it to the topic's request, whatever its op)
    assert option == SubscribeAck("", None, "aa01", ("orderbook.100.BTC-6JAN23-18000-C",), ())
    named = decode('{"success": true, "conn_id": "aa01", "op": "unsubscribe", "data": {"failTopics": [], '
                   '"successTopics": ["orderbook.100.BTC-6JAN23-18000-C"]}, "type": "COMMAND_RESP"}')
    assert isinstance(named, SubscribeAck) and named.op == "unsubscribe"


def test_option_command_resp_partial_and_full_failure() -> None:
    partial = decode('{"success":true,"conn_id":"x","data":{"failTopics":["tickers.NOPE"],'
                     '"successTopics":["tickers.BTC-6JAN23-18000-C"]},"type":"COMMAND_RESP"}')
    assert isinstance(partial, SubscribeAck) and partial.fail_topics == ("tickers.NOPE",)
    failed = decode('{"success":true,"conn_id":"x","data":{"failTopics":["tickers.NOPE"],"successTopics":[]},'
                    '"type":"COMMAND_RESP"}')
    assert isinstance(failed, SubscribeFailure) and failed.topic == "tickers.NOPE" and failed.op == ""


@pytest.mark.parametrize(
    ("text", "topic", "already"),
    [
        ('{"success":false,"ret_msg":"error:handler not found,topic:publicTrade.NOTASYMBOL","conn_id":"c",'
         '"req_id":"","op":"subscribe"}', "publicTrade.NOTASYMBOL", False),
        ('{"success":false,"ret_msg":"error:already subscribed,topic:orderbook.1.ETHUSDT","conn_id":"c",'
         '"req_id":"e6","op":"subscribe"}', "orderbook.1.ETHUSDT", True),
        ('{"success":false,"ret_msg":"args size >10","conn_id":"x","op":"subscribe"}', None, False),
    ],
)
def test_subscribe_failures_name_the_topic(text: str, topic: str | None, already: bool) -> None:
    ev = decode(text)
    assert isinstance(ev, SubscribeFailure)
    assert ev.topic == topic
    assert ev.already_subscribed is already  # §11.1: already subscribed is informational


def test_legacy_spot_v3_acks() -> None:
    sub = decode('{"op":"subscribe","success":true,"req_id":"10001","ret_msg":"subscribe","conn_id":"46f097b7"}')
    unsub = decode('{"op":"unsubscribe","success":true,"req_id":"10002","ret_msg":"unsubscribe","conn_id":"46f097b7"}')
    assert sub == SubscribeAck("subscribe", "10001", "46f097b7")
    assert unsub == SubscribeAck("unsubscribe", "10002", "46f097b7")


# --------------------------------------------------------------------------- auth (§3)


def test_auth_results_private_and_trade_shapes() -> None:
    assert decode('{"success": true, "ret_msg": "", "op": "auth", "conn_id": "cejreaspqfh3sjdnldmg-p"}') == AuthResult(
        True, "", None, None, "cejreaspqfh3sjdnldmg-p"
    )
    with_id = decode('{"req_id": "10001", "success": true, "ret_msg": "", "op": "auth", "conn_id": "cldfn"}')
    assert with_id == AuthResult(True, "", None, "10001", "cldfn")
    fail = decode('{"success": false, "ret_msg": "Params Error", "op": "auth", "conn_id": "cno3gd1qo29t7ommtc60"}')
    assert fail == AuthResult(False, "Params Error", None, None, "cno3gd1qo29t7ommtc60")
    trade_ok = decode('{"retCode": 0, "retMsg": "OK", "op": "auth", "connId": "cnt5leec0hvan15eukcg-2t"}')
    assert trade_ok == AuthResult(True, "OK", 0, None, "cnt5leec0hvan15eukcg-2t")
    for code in (20001, 10004, 10001):
        ev = decode(f'{{"retCode": {code}, "retMsg": "x", "op": "auth", "connId": "c"}}')
        assert isinstance(ev, AuthResult) and not ev.success and ev.ret_code == code


# --------------------------------------------------------------------------- WS trade (§8)


def test_trade_response_with_rate_limit_headers() -> None:
    ev = decode(
        '{"reqId":"test-005","retCode":0,"retMsg":"OK","op":"order.create",'
        '"data":{"orderId":"a4c1718e-fe53-4659-a118-1f6ecce04ad9","orderLinkId":""},"retExtInfo":{},'
        '"header":{"X-Bapi-Limit":"10","X-Bapi-Limit-Status":"9","X-Bapi-Limit-Reset-Timestamp":"1711001595208",'
        '"Traceid":"38b7977b430f9bd228f4b19724794dfd","Timenow":"1711001595209"},"connId":"cnt5leec0hvan15eukcg-2v"}'
    )
    assert isinstance(ev, TradeResponse) and ev.ok and ev.req_id == "test-005" and ev.op == "order.create"
    assert (ev.rate_limit, ev.rate_limit_remaining, ev.rate_limit_reset_ms) == (10, 9, 1711001595208)
    assert ev.data["orderId"] == "a4c1718e-fe53-4659-a118-1f6ecce04ad9"
    # a short repr like OrderAck's: no headers (trace ids, timestamps), no connection id
    assert repr(ev) == ("TradeResponse(order.create req_id='test-005' ok "
                        "order_id='a4c1718e-fe53-4659-a118-1f6ecce04ad9' limit_left=9)")
    refused = decode('{"reqId":"r2","retCode":10001,"retMsg":"params error","op":"order.cancel","data":{},'
                     '"retExtInfo":{},"header":{"Traceid":"t"},"connId":"c"}')
    assert repr(refused) == "TradeResponse(order.cancel req_id='r2' ret_code=10001 'params error')"


def test_batch_response_items_and_errors() -> None:
    batch = decode(
        '{"retCode":0,"retMsg":"OK","op":"order.create-batch","data":{"list":[{"category":"linear",'
        '"symbol":"SOLUSDT","orderId":"","orderLinkId":"batch-000","createAt":""}]},"retExtInfo":{"list":'
        '[{"code":10001,"msg":"position idx not match position mode"}]},"header":{"Timenow":"1740453408556"},'
        '"connId":"cupviqn88smf24t2kpb0-536o"}'
    )
    assert isinstance(batch, TradeResponse) and batch.ok
    assert batch.ret_ext_info["list"][0]["code"] == 10001
    err = decode('{"reqId":"x1","retCode":110007,"retMsg":"ab not enough for new order","op":"order.create",'
                 '"data":{},"retExtInfo":{},"header":{},"connId":"c"}')
    assert isinstance(err, TradeResponse) and not err.ok and err.ret_code == 110007 and err.req_id == "x1"
    unknown_op = decode('{"reqId":"q","retCode":10404,"retMsg":"unknown op","op":"order.nope","connId":"c"}')
    assert isinstance(unknown_op, TradeResponse) and unknown_op.ret_code == 10404


# --------------------------------------------------------------------------- public pushes (§6)


def test_reference_orderbook_examples() -> None:
    snap = decode('{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1672304484978,"data":{"s":"BTCUSDT",'
                  '"b":[["16493.50","0.006"],["16493.00","0.100"]],"a":[["16611.00","0.029"],["16612.00","0.213"]],'
                  '"u":18521288,"seq":7961638724},"cts":1672304484976}')
    assert snap == BookUpdate("orderbook.50.BTCUSDT", "BTCUSDT", 50, True, 1672304484978, 18521288, 7961638724,
                              [(16493.5, 0.006), (16493.0, 0.1)], [(16611.0, 0.029), (16612.0, 0.213)],
                              1672304484976)
    rpi = decode('{"topic":"orderbook.rpi.BTCUSDT","ts":1752472188075,"type":"delta","data":{"s":"BTCUSDT",'
                 '"b":[["121975.1","0.114259","0"],["121969.9","0","0"]],"a":[["121990.8","0.441585","0.78821"]],'
                 '"u":2258980,"seq":79683241099},"cts":1752472188067}')
    assert isinstance(rpi, BookUpdate) and rpi.bids == [(121975.1, 0.114259), (121969.9, 0.0)]


def test_reference_ticker_delta_and_priceless_frames() -> None:
    delta = decode('{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","markPrice":"86716.30",'
                   '"indexPrice":"86756.70","openInterestValue":"5250990127.10","singleOpenInterestValue":'
                   '"2625495106.91"},"cs":814547789569,"ts":1790134712383}')
    assert isinstance(delta, TickerUpdate) and not delta.snapshot and delta.fields["markPrice"] == 86716.3
    futures = decode('{"topic":"tickers.BTCUSDH25","type":"snapshot","data":{"symbol":"BTCUSDH25",'
                     '"nextFundingTime":"","fundingRate":"","deliveryTime":"2025-03-28T08:00:00Z"},"cs":1,"ts":2}')
    assert isinstance(futures, TickerUpdate)
    assert futures.fields["fundingRate"] is None and futures.fields["deliveryTime"] == "2025-03-28T08:00:00Z"


# --------------------------------------------------------------------------- legacy spot v3 (§9.1)


def test_spot_v3_public_frames() -> None:
    trade = decode('{"topic":"trade.BTCUSDT","type":"snapshot","ts":1661742109863,"data":{"v":"2100000000001992601",'
                   '"t":1661742109857,"p":"19706.87","q":"0.000158","m":true,"type":"0"}}')
    assert isinstance(trade, Trades)
    t = trade.trades[0]
    assert (t.symbol, t.side, t.price, t.size, t.trade_id, t.ts) == (
        "BTCUSDT", "Buy", 19706.87, 0.000158, "2100000000001992601", 1661742109857)
    book = decode('{"topic":"orderbook.40.BTCUSDT","type":"snapshot","ts":1661743689735,"data":{"s":"BTCUSDT",'
                  '"t":1661743689733,"b":[["19721.9","0.784806"]],"a":[["19721.91","0.192687"]]}}')
    assert isinstance(book, BookUpdate) and book.snapshot and book.depth == 40 and book.ts == 1661743689733
    assert book.bids == [(19721.9, 0.784806)] and book.asks == [(19721.91, 0.192687)]
    kline = decode('{"topic":"kline.1h.BTCUSDT","type":"snapshot","ts":1661745259605,"data":{"t":1661742000000,'
                   '"s":"BTCUSDT","c":"19685.55","h":"19756.95","l":"19674.61","o":"19705.38","v":"0.232154"}}')
    assert isinstance(kline, Klines) and kline.interval == "1h"
    c = kline.candles[0]
    assert (c.start, c.open, c.high, c.low, c.close, c.volume) == (
        1661742000000, 19705.38, 19756.95, 19674.61, 19685.55, 0.232154)
    tick = decode('{"topic":"tickers.BTCUSDT","type":"snapshot","ts":1661742216109,"data":{"t":1661742216108,'
                  '"s":"BTCUSDT","o":"19700","h":"19800","l":"19600","c":"19706.87","v":"10","qv":"197068",'
                  '"m":"0.001","xp":""}}')
    assert isinstance(tick, TickerUpdate) and tick.symbol == "BTCUSDT" and tick.snapshot
    assert tick.fields["lastPrice"] == 19706.87 and tick.fields["usdIndexPrice"] is None
    bt = decode('{"topic":"bookticker.BTCUSDT","type":"snapshot","ts":1661742216109,"data":{"s":"BTCUSDT",'
                '"bp":"19693.04","bq":"0.913957","ap":"19694.27","aq":"0.705447","t":1661742216108}}')
    assert bt == BookTicker("bookticker.BTCUSDT", "BTCUSDT", 1661742216108, 19693.04, 0.913957, 19694.27, 0.705447)


@pytest.mark.parametrize(
    ("topic", "item"),
    [
        ("outboundAccountInfo", {"e": "outboundAccountInfo", "E": "1662348310386", "T": True, "W": True, "D": True,
                                 "B": [{"a": "USDT", "f": "176.81254174", "l": "201.575"}]}),
        ("order", {"e": "order", "E": "1662348310441", "s": "BTCUSDT", "c": "1662348310222", "S": "BUY",
                   "o": "LIMIT", "f": "GTC", "q": "0.001", "p": "19000", "X": "NEW", "i": "1238261807143881472"}),
        ("stopOrder", {"e": "stopOrder", "E": "1662348310441", "s": "BTCUSDT", "X": "ORDER_NEW", "qp": "19000"}),
        ("ticketInfo", {"e": "ticketInfo", "E": "1662348310388", "s": "BTCUSDT", "q": "0.001", "t": "1662348310373",
                        "p": "19000", "T": "2100000000002220938", "o": "1238261807143881472", "m": True, "S": "BUY"}),
    ],
)
def test_spot_v3_private_frames(topic: str, item: dict[str, object]) -> None:
    import orjson

    text = orjson.dumps({"type": "snapshot", "topic": topic, "ts": "1662348310441", "data": [item]}).decode()
    ev = decode(text)
    assert isinstance(ev, PrivateUpdate)
    assert ev.legacy and ev.kind == topic and ev.creation_time == 1662348310441
    assert ev.items == (item,)


def test_v5_private_order_is_not_taken_for_legacy() -> None:
    ev = decode('{"id":"5923240c","topic":"order.linear","creationTime":1672364262474,"data":[{"category":"linear",'
                '"symbol":"BTCUSDT","orderId":"o1","price":"72.5","qty":"1","orderStatus":"New"}]}')
    assert isinstance(ev, PrivateUpdate) and ev.kind == "order" and not ev.legacy and ev.items[0]["price"] == "72.5"


# --------------------------------------------------------------------------- errors and junk


def test_server_errors() -> None:
    ev = decode('{"success":false,"ret_msg":"error:invalid op","conn_id":"c","op":"foo"}')
    assert isinstance(ev, ServerError) and ev.message == "error:invalid op"
    v3 = decode('{"type":"error","ret_code":"10003","ret_msg":"Invalid apikey"}')
    assert isinstance(v3, ServerError) and v3.code == 10003
    sent_junk = decode('{"success":false,"ret_msg":"Failed to decode incoming data:readObjectStart: expect { or n, '
                       'but found h"}')
    assert isinstance(sent_junk, ServerError) and "Failed to decode" in sent_junk.message


JUNK: list[object] = [
    "", "not json", "[1,2,3]", "42", "null", '{"topic": 5}', '{"hello":"world"}', '{"topic":"nope.X","data":{}}',
    '{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["x","1"]],"a":[],"u":2}}',
    '{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["1"]],"a":[],"u":2}}',
    '{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":"two"}}',
    '{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[]}}',
    '{"topic":"orderbook.50.BTCUSDT","type":"weird","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":1}}',
    '{"topic":"publicTrade.BTCUSDT","ts":1,"data":[{"T":1}]}', '{"topic":"kline.5.BTCUSDT","ts":1,"data":"x"}',
    '{"topic":"order","data":[1,2]}', b"\xff\xfe", bytearray(b'{"op":"pong"}'), memoryview(b"{]"), None, 3.5,
]


@pytest.mark.parametrize("junk", JUNK, ids=range(len(JUNK)))
def test_decode_never_raises_and_keeps_the_text(junk: object) -> None:
    ev = decode(junk)  # type: ignore[arg-type]
    if isinstance(ev, (Malformed, Unknown)):
        if isinstance(junk, str):
            assert ev.raw == junk
        elif isinstance(junk, (bytes, bytearray, memoryview)):
            assert ev.raw == bytes(junk).decode("utf-8", "replace")
        msg = ev.error if isinstance(ev, Malformed) else ev.reason
        assert msg  # says what was wrong
    else:
        assert isinstance(ev, Pong)  # the one valid frame in the list


def test_malformed_book_names_the_problem_and_topic() -> None:
    ev = decode('{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["x","1"]],'
                '"a":[],"u":2}}')
    assert isinstance(ev, Malformed) and ev.topic == "orderbook.50.BTCUSDT" and "non-numeric" in ev.error
    ev2 = decode('{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],'
                 '"u":"two"}}')
    assert isinstance(ev2, Malformed) and "u must be an integer" in ev2.error
