"""Every topic's frame columns have their declared dtype: floats for numbers Bybit sends as strings,
UTC datetimes for times, exact ``str`` for ids; nothing is guessed from the first value."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pandas as pd
import pytest
import reactivex as rx
from frames_helpers import T0, trade
from helpers import eventually
from reactivex import operators as rx_ops

import rxbybit as rb
from rxbybit import frames, ops
from rxbybit.frames import LiveFrame, StateFrame
from rxbybit.frames.schemas import EXECUTION, ORDER, POSITION, detect, topic_schema
from rxbybit.protocol import Candle, Ticker
from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET, Simulator

UTC_MS = "datetime64[ms, UTC]"

EXECUTION_ITEM = {
    "category": "linear", "symbol": "BTCUSDT", "closedSize": "0", "execFee": "0.33", "execId": "e-1",
    "execPrice": "60000", "execQty": "0.010", "execType": "Trade", "execValue": "600", "feeRate": "0.00055",
    "markPrice": "60001.5", "leavesQty": "0", "orderId": "o-1", "orderLinkId": "", "orderPrice": "60000",
    "orderQty": "0.02", "orderType": "Limit", "stopOrderType": "UNKNOWN", "side": "Buy", "execTime": str(T0),
    "isLeverage": "0", "isMaker": False, "seq": 140612148849382, "execPnl": "0", "createType": "CreateByUser",
    "feeCurrency": "USDT",
}
POSITION_ITEM = {
    "category": "linear", "symbol": "BTCUSDT", "side": "Buy", "size": "0.01", "positionIdx": 0,
    "positionValue": "600", "entryPrice": "60000", "markPrice": "60001.5", "leverage": "10", "liqPrice": "",
    "unrealisedPnl": "0.015", "curRealisedPnl": "-0.33", "cumRealisedPnl": "-0.33", "createdTime": str(T0),
    "updatedTime": str(T0 + 5), "seq": 7, "isReduceOnly": False,
}
ORDER_ITEM = {
    "category": "linear", "symbol": "BTCUSDT", "orderId": "o-1", "orderLinkId": "mine-1", "side": "Buy",
    "orderType": "Limit", "price": "60000", "qty": "0.02", "timeInForce": "GTC", "orderStatus": "New",
    "leavesQty": "0.02", "cumExecQty": "0", "avgPrice": "", "positionIdx": 0, "reduceOnly": False,
    "createdTime": str(T0), "updatedTime": str(T0 + 1), "cumFeeDetail": {"USDT": "0"},
}


def test_executions_sum_as_numbers_and_keep_ids_as_exact_strings() -> None:
    fills = LiveFrame(10)
    fills.append(EXECUTION_ITEM)
    fills.append({**EXECUTION_ITEM, "execId": "e-2", "execQty": "0.015", "execTime": str(T0 + 3)})
    df = fills.df
    for col in ("execQty", "execPrice", "execFee", "execValue", "execPnl", "feeRate", "markPrice"):
        assert df[col].dtype == "float64", (col, df[col].dtype)
    assert df["execQty"].sum() == pytest.approx(0.025)
    for col in ("execId", "orderId", "orderLinkId", "side", "isLeverage", "category"):
        assert pd.api.types.is_string_dtype(df[col]), (col, df[col].dtype)
    assert df["execId"].tolist() == ["e-1", "e-2"]
    assert df["seq"].dtype == "int64" and df["isMaker"].dtype == "bool"
    assert str(df.index.tz) == "UTC" and df.index[1] == pd.Timestamp(T0 + 3, unit="ms", tz="UTC")
    assert not fills.errors


def test_a_whole_number_entry_price_is_a_float_and_times_are_utc_datetimes() -> None:
    pos = LiveFrame(10)
    pos.append(POSITION_ITEM)
    assert pos.df["entryPrice"].dtype == "float64"  # "60000" is not guessed to be an int
    assert pos.df["liqPrice"].isna().all()  # "" is missing, not an error
    assert str(pos.df["createdTime"].dtype) == UTC_MS
    assert pos.df["positionIdx"].dtype == "int64"
    assert pos.df.index.name == "updatedTime"
    assert not pos.errors


def test_state_frames_type_their_df_and_keep_exact_strings_in_rows() -> None:
    src: rx.subject.Subject[dict[str, object]] = rx.subject.Subject()
    orders = frames.open_orders(src)
    positions = frames.positions(src.pipe(rx_ops.filter(lambda r: "entryPrice" in r)))
    src.on_next(ORDER_ITEM)
    src.on_next(POSITION_ITEM)
    odf = orders.df
    assert odf["price"].dtype == "float64" and odf["qty"].dtype == "float64"
    assert str(odf["updatedTime"].dtype) == UTC_MS
    assert pd.api.types.is_string_dtype(odf["orderLinkId"]) and pd.api.types.is_string_dtype(odf["symbol"])
    assert orders.rows[("o-1",)]["price"] == "60000"  # what goes back to the exchange stays exact
    pdf = positions.df
    assert pdf["entryPrice"].dtype == "float64" and pdf["unrealisedPnl"].dtype == "float64"
    assert str(pdf["updatedTime"].dtype) == UTC_MS
    assert pdf["liqPrice"].isna().all()


def test_balances_are_floats_per_coin() -> None:
    push = {"accountType": "UNIFIED", "totalEquity": "100", "coin": [
        {"coin": "USDT", "equity": "100", "walletBalance": "100", "locked": "0", "unrealisedPnl": "0",
         "usdValue": "100"}]}
    bal = frames.balances(rx.of(push))
    assert bal.df["equity"].dtype == "float64" and bal.df.loc["USDT", "walletBalance"] == 100.0
    assert pd.api.types.is_string_dtype(bal.df["accountType"])
    whole = LiveFrame(5, time_field=None, topic="wallet")
    with pytest.raises(TypeError, match="timestamp"):
        whole.append(push)  # a wallet push has no time field: the error says what to pass


def test_undeclared_numeric_strings_in_a_state_frame_become_floats_never_ints() -> None:
    f = StateFrame("k")
    f.on_next({"k": "a", "mystery": "5"})
    f.on_next({"k": "b", "mystery": "7"})
    assert f.df["mystery"].dtype == "float64"


def test_candles_have_utc_datetimes_for_start_end_and_timestamp() -> None:
    f = LiveFrame(10)
    f.append(Candle(T0, T0 + 59_999, "1", 1.0, 2.0, 0.5, 1.5, 10.0, 15.0, False, T0 + 10))
    df = f.df
    assert str(df["end"].dtype) == UTC_MS and str(df["timestamp"].dtype) == UTC_MS
    assert df["end"].iloc[0] == pd.Timestamp(T0 + 59_999, unit="ms", tz="UTC")
    assert df.index[0] == pd.Timestamp(T0, unit="ms", tz="UTC") and str(df.index.tz) == "UTC"
    assert df["open"].dtype == "float64" and pd.api.types.is_string_dtype(df["interval"])


def test_trades_and_tickers_are_typed() -> None:
    tape = LiveFrame(10)
    tape.extend(trade(i) for i in range(3))
    assert tape.df["price"].dtype == "float64" and pd.api.types.is_string_dtype(tape.df["trade_id"])
    tick = LiveFrame(10)
    tick.append(Ticker("BTCUSDT", T0, 1, {"symbol": "BTCUSDT", "lastPrice": 1.5, "nextFundingTime": 1.7e12,
                                          "tickDirection": "PlusTick"}))
    assert tick.df["lastPrice"].dtype == "float64"
    assert str(tick.df["nextFundingTime"].dtype) == UTC_MS
    assert pd.api.types.is_string_dtype(tick.df["tickDirection"])


def test_a_value_that_does_not_fit_is_reported_and_the_row_kept() -> None:
    fills = LiveFrame(10)
    fills.append(EXECUTION_ITEM)
    fills.append({**EXECUTION_ITEM, "execQty": "lots"})
    assert len(fills) == 2
    assert math.isnan(fills.df["execQty"].iloc[1])
    assert any("execQty" in e and "lots" in e for e in fills.errors)


def test_topics_are_recognised_and_named_schemas_refuse_unknown_topics() -> None:
    assert detect(EXECUTION_ITEM) is EXECUTION and detect(ORDER_ITEM) is ORDER and detect(POSITION_ITEM) is POSITION
    assert topic_schema("execution.linear") is EXECUTION and topic_schema("order.spot") is ORDER
    with pytest.raises(KeyError, match="known"):
        topic_schema("nonsense")
    with pytest.raises(KeyError, match="nonsense"):
        ops.to_state("orderId", topic="nonsense")(rx.empty())


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(host="127.0.0.1", port=0, seed=7, symbols=("BTCUSDT",), speed=5.0) as s:
        yield s


async def test_a_real_fill_on_the_simulator_gives_float_quantities(sim: Simulator) -> None:
    async with rb.Bybit(sim.url, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET, simulated=True) as bybit:
        fills = bybit.executions().pipe(ops.to_frame(100))
        await bybit.wait_subscribed()
        for _ in range(2):
            await bybit.trade.create_order(category="linear", symbol="BTCUSDT", side="Buy", order_type="Market",
                                           qty="0.01")
        await eventually(lambda: len(fills) >= 2, what="two fills in the frame")
        df = fills.df
        assert df["execQty"].dtype == "float64" and df["execQty"].sum() == pytest.approx(0.02)
        assert pd.api.types.is_string_dtype(df["execId"]) and str(df.index.tz) == "UTC"
        fills.close()


def test_frame_displays_are_newest_first_like_every_live_view() -> None:
    tape = LiveFrame(10, display_rows=3)
    tape.extend(trade(i, 100.5 + i, 1.0 + i) for i in range(5))
    text = repr(tape)
    assert "newest first" in text and text.index("104.5") < text.index("103.5") < text.index("102.5")
    assert "101.5" not in text
    html = tape._repr_html_()
    assert html.index("104.5") < html.index("102.5")
    assert ">5<" in html and ">3<" in html, "sizes share one number of decimals (none needed here)"
