"""decode() against frames recorded or written by other projects (tests/protocol/fixtures)."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import orjson
import pytest

from rxbybit.protocol import (
    AuthResult,
    BookUpdate,
    Klines,
    Liquidations,
    Malformed,
    PrivateUpdate,
    SubscribeAck,
    SubscribeFailure,
    TickerUpdate,
    TradeResponse,
    Trades,
    decode,
)

from .conftest import FIXTURES, cryptofeed_received, frame, lines

ALL_JSON = sorted(glob.glob(str(FIXTURES / "**" / "*.json"), recursive=True))
ALL_JSONL = sorted(glob.glob(str(FIXTURES / "**" / "*.jsonl"), recursive=True))


def _all_frames() -> list[str]:
    out = [Path(p).read_text() for p in ALL_JSON]
    for p in ALL_JSONL:
        out += lines(os.path.relpath(p, FIXTURES))
    out += cryptofeed_received("cryptofeed/BYBIT.ws.1.0") + cryptofeed_received("cryptofeed/BYBIT.ws.2.0")
    return out


def test_every_fixture_frame_decodes_to_a_known_event_and_str_bytes_agree() -> None:
    frames = _all_frames()
    assert len(frames) > 400
    kinds = set()
    for f in frames:
        ev = decode(f)
        assert ev == decode(f.encode()), f[:80]
        kinds.add(type(ev).__name__)
        # the one hand-made topic (trade.linear.*) is not a Bybit shape: it must keep its text
        if isinstance(ev, Malformed):
            assert "trade.linear" in f and ev.raw == f
    assert {"BookUpdate", "Trades", "TickerUpdate", "Klines", "Liquidations", "PrivateUpdate",
            "SubscribeAck", "SubscribeFailure", "AuthResult", "TradeResponse"} <= kinds


def test_orderbook_snapshot_and_delta_values() -> None:
    snap = decode(frame("nautilus_trader/ws_messages/public/ws_orderbook_snapshot.json"))
    assert isinstance(snap, BookUpdate)
    raw = orjson.loads(frame("nautilus_trader/ws_messages/public/ws_orderbook_snapshot.json"))
    assert snap.snapshot and snap.depth == 50 and snap.symbol == "BTCUSDT"
    assert snap.u == raw["data"]["u"] and snap.seq == raw["data"]["seq"] and snap.ts == raw["ts"]
    assert snap.bids == [(float(p), float(s)) for p, s in raw["data"]["b"]]
    assert snap.asks == [(float(p), float(s)) for p, s in raw["data"]["a"]]
    assert all(type(x) is float for lv in snap.bids + snap.asks for x in lv)

    delta = decode(frame("nautilus_trader/ws_messages/public/ws_orderbook_delta_no_asks.json"))
    assert isinstance(delta, BookUpdate) and not delta.snapshot
    assert delta.asks == [] and delta.bids[-1] == (30240.0, 0.0) and delta.u == 177400507


def test_option_book_with_u_zero_and_ids() -> None:
    evs = [decode(f) for f in lines("tardis-node/mappers.test.ts__bybit_options_v5_messages.jsonl")]
    books = [e for e in evs if isinstance(e, BookUpdate)]
    assert [(b.depth, b.snapshot, b.u) for b in books] == [(25, True, 0), (25, True, 24641), (25, False, 24642)]
    assert books[0].bids == [] and books[0].asks == []
    assert books[2].asks == [(1.74, 0.0), (1.75, 46.0)]
    trades = evs[0]
    assert isinstance(trades, Trades) and trades.topic == "publicTrade.BTC"
    assert trades.trades[0].symbol == "BTC-28APR23-29500-C" and trades.trades[0].side == "Sell"


def test_public_trades_keep_every_trade_in_order() -> None:
    line = lines("tardis-node/mappers.test.ts__bybit_spot_v5_messagesV5.jsonl")[0]
    raw = orjson.loads(line)
    ev = decode(line)
    assert isinstance(ev, Trades)
    assert [t.trade_id for t in ev.trades] == [t["i"] for t in raw["data"]]
    assert [t.price for t in ev.trades] == [float(t["p"]) for t in raw["data"]]
    assert [t.size for t in ev.trades] == [float(t["v"]) for t in raw["data"]]
    linear = decode(frame("nautilus_trader/ws_messages/public/ws_trade.json"))
    assert isinstance(linear, Trades)
    t = linear.trades[0]
    assert (t.side, t.price, t.size, t.tick_direction, t.block_trade) == ("Buy", 16578.5, 0.001, "PlusTick", False)


def test_tickers_linear_delta_option_and_spot() -> None:
    evs = [decode(f) for f in lines("tardis-node/mappers.test.ts__bybit_v5_messagesV5.jsonl")]
    tick = [e for e in evs if isinstance(e, TickerUpdate)]
    delta = next(e for e in tick if e.symbol == "BTCUSD" and not e.snapshot)
    assert dict(delta.fields) == {
        "symbol": "BTCUSD", "price24hPcnt": 0.023362, "openInterest": 449736674.0, "fundingRate": 0.0001,
        "bid1Price": 28560.0, "bid1Size": 340549.0, "ask1Price": 28560.5, "ask1Size": 70817.0,
    }
    assert delta.cs == 20856433603
    option = decode(frame("nautilus_trader/ws_messages/public/ws_ticker_option.json"))
    assert isinstance(option, TickerUpdate) and option.snapshot and option.cs == 0
    assert isinstance(option.fields["markPrice"], float)
    spot = decode(frame("nautilus_trader/ws_messages/public/ws_ticker_spot.json"))
    assert isinstance(spot, TickerUpdate) and spot.fields["lastPrice"] == 21109.77
    linear = decode(frame("nautilus_trader/ws_messages/public/ws_ticker_linear.json"))
    assert isinstance(linear, TickerUpdate) and linear.fields["tickDirection"] in ("PlusTick", "MinusTick",
                                                                                     "ZeroPlusTick", "ZeroMinusTick")


def test_kline_and_liquidations() -> None:
    k = decode(frame("nautilus_trader/ws_kline.json"))
    assert isinstance(k, Klines) and k.interval == "5" and k.symbol == "BTCUSDT"
    assert k.candles[0].start == 1672324800000 and k.candles[0].confirm is False
    old = decode(frame("nautilus_trader/ws_messages/public/ws_liquidation.json"))
    assert isinstance(old, Liquidations)
    assert old.liquidations[0] == old.liquidations[0].__class__(1673251091822, "GALAUSDT", "Buy", 1637.0, 0.03803)
    new = decode(lines("tardis-node/mappers.test.ts__bybit_v5_messagesAllLiquidation.jsonl")[0])
    assert isinstance(new, Liquidations) and new.liquidations[0].price == 0.02456


@pytest.mark.parametrize(
    ("rel", "kind"),
    [
        ("nautilus_trader/ws_account_order.json", "order"),
        ("nautilus_trader/ws_account_execution.json", "execution"),
        ("nautilus_trader/ws_account_execution_fast.json", "execution.fast"),
        ("nautilus_trader/ws_account_position.json", "position"),
        ("nautilus_trader/ws_account_wallet.json", "wallet"),
        ("nautilus_trader/ws_messages/private/ws_order.json", "order"),
    ],
)
def test_private_pushes_keep_exact_strings(rel: str, kind: str) -> None:
    text = frame(rel)
    raw = orjson.loads(text)
    ev = decode(text)
    assert isinstance(ev, PrivateUpdate) and ev.kind == kind and not ev.legacy
    assert [dict(x) for x in ev.items] == raw["data"]  # values untouched: "0.5" stays "0.5"
    assert ev.creation_time == raw["creationTime"]


def test_empty_private_push_is_kept() -> None:
    ev = decode(frame("nautilus_trader/ws_account_execution_fast_envelope_id.json"))
    assert isinstance(ev, PrivateUpdate) and ev.items == () and ev.id == "fast-1"


def test_control_frames_from_fixtures() -> None:
    ack = decode(frame("nautilus_trader/ws_subscription_ack.json"))
    assert ack == SubscribeAck("subscribe", "sub-orderbook-1", "cejreaspqfm9se7usbrg-2xh")
    fail = decode(frame("nautilus_trader/ws_subscription_failure.json"))
    assert isinstance(fail, SubscribeFailure) and fail.topic == "invalid.topic.BTCUSDT"
    ok = decode(frame("nautilus_trader/ws_auth_success.json"))
    assert ok == AuthResult(True, "", 0, None, "cejreaspqfm9se7usbrg-2xh")
    bad = decode(frame("nautilus_trader/ws_auth_failure.json"))
    assert isinstance(bad, AuthResult) and not bad.success and bad.ret_code == 10003 and bad.message == "Invalid apikey"
    resp = decode(frame("nautilus_trader/ws_order_response.json"))
    assert isinstance(resp, TradeResponse) and resp.ok and resp.req_id == "order-req-001"
    assert resp.data["orderId"] == "1726025498520715008"


def test_cryptofeed_acks_of_both_sockets() -> None:
    linear = [decode(f) for f in cryptofeed_received("cryptofeed/BYBIT.ws.1.0")]
    spot = [decode(f) for f in cryptofeed_received("cryptofeed/BYBIT.ws.2.0")]
    assert sum(isinstance(e, SubscribeAck) for e in linear) == 4
    assert sum(isinstance(e, SubscribeAck) for e in spot) == 6
    assert all(isinstance(e, (SubscribeAck, BookUpdate)) for e in linear + spot)
