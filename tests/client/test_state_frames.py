"""Live frames of open orders, positions and balances from the private streams."""

from __future__ import annotations

import reactivex as rx
from helpers import eventually
from reactivex import operators as rx_ops
from reactivex.subject import Subject

import rxbybit as rb
from rxbybit import frames
from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET, Simulator

from .conftest import fast_client


def test_state_frame_keeps_the_newest_row_per_key_and_drops_final_ones() -> None:
    source: Subject[dict[str, str]] = Subject()
    open_orders = frames.open_orders(source)
    source.on_next({"orderId": "a", "orderStatus": "New", "price": "100", "qty": "1"})
    source.on_next({"orderId": "b", "orderStatus": "New", "price": "101", "qty": "2"})
    source.on_next({"orderId": "a", "orderStatus": "PartiallyFilled", "price": "100", "qty": "1"})
    assert list(open_orders.df.index) == ["a", "b"]
    assert open_orders.df.loc["a", "orderStatus"] == "PartiallyFilled"
    assert open_orders.df.loc["b", "price"] == 101.0
    assert open_orders.rows[("b",)]["price"] == "101"  # exact strings kept for the way back
    source.on_next({"orderId": "a", "orderStatus": "Filled", "price": "100", "qty": "1"})
    assert list(open_orders.df.index) == ["b"]
    source.on_next(42)  # type: ignore[arg-type]
    assert open_orders.errors and "mappings" in open_orders.errors[-1]
    source.on_next({"orderId": "c", "orderStatus": "New"})
    assert len(open_orders) == 2  # a bad item did not stop the stream


def test_balances_explode_wallet_pushes_into_coins() -> None:
    first = {"accountType": "UNIFIED", "coin": [{"coin": "USDT", "equity": "10"}, {"coin": "BTC", "equity": "1"}]}
    wallet = rx.of(first, {"accountType": "UNIFIED", "coin": [{"coin": "USDT", "equity": "7.5"}]})
    bal = frames.balances(wallet)
    assert bal.df.loc["USDT", "equity"] == 7.5
    assert bal.df.loc["BTC", "equity"] == 1.0


async def test_state_frames_follow_paper_trading_on_the_simulator(sim: Simulator) -> None:
    async with fast_client(sim, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET, simulated=True) as bybit:
        orders = frames.open_orders(bybit.orders())
        pos = frames.positions(bybit.positions())
        bal = frames.balances(bybit.wallet())
        assert orders.simulated and "SIMULATED" in repr(orders)
        await bybit.wait_subscribed()
        # the balance is there from the REST snapshot; the trade below must change it through a push
        await eventually(lambda: "USDT" in bal.df.index, what="the USDT balance from the snapshot")
        start = bal.rows[("USDT",)]["walletBalance"]
        book = await bybit.orderbook("BTCUSDT", depth=50).pipe(rx_ops.take(1))
        assert book.best_bid is not None
        ack = await bybit.trade.create_order(category="linear", symbol="BTCUSDT", side="Buy", order_type="Limit",
                                             qty="0.01", price=f"{round(book.best_bid[0] * 0.9, 1)}")
        await eventually(lambda: ack.order_id in orders.df.index, what="the open order in the frame")
        await bybit.trade.cancel_order(category="linear", symbol="BTCUSDT", order_id=ack.order_id)
        await eventually(lambda: ack.order_id not in orders.df.index, what="the cancelled order to leave")
        await bybit.trade.create_order(category="linear", symbol="BTCUSDT", side="Sell", order_type="Market",
                                       qty="0.01")
        await eventually(lambda: len(pos) == 1, what="a position row")
        await eventually(lambda: bal.rows[("USDT",)]["walletBalance"] != start, what="the fee in the USDT balance")
        assert pos.df["size"].iloc[0] == 0.01
        for f in (orders, pos, bal):
            f.close()


def test_frame_operators_live_in_ops_and_frames_keep_the_frames() -> None:
    assert callable(rb.ops.to_state) and callable(rb.ops.to_frame) and callable(rb.ops.to_book)
    assert not hasattr(frames, "to_state") and callable(frames.open_orders)
