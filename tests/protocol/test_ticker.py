"""TickerState: linear/inverse deltas merge into the last snapshot; spot/option snapshots replace."""

from __future__ import annotations

import pytest

from rxbybit.protocol import TickerState, TickerUpdate, decode

from .conftest import lines


def tu(snapshot: bool, cs: int, **fields: float | str | None) -> TickerUpdate:
    return TickerUpdate("tickers.BTCUSDT", "BTCUSDT", snapshot, 1000 + cs, cs, {"symbol": "BTCUSDT", **fields})


def test_linear_delta_merges_and_missing_fields_stay() -> None:
    state = TickerState()
    first = state.apply(tu(True, 1, lastPrice=100.0, markPrice=101.0, bid1Price=99.5))
    merged = state.apply(tu(False, 2, markPrice=102.0))
    assert merged.complete and merged.last_price == 100.0 and merged.mark_price == 102.0 and merged.cs == 2
    assert merged.bid_price == 99.5 and merged.ask_price is None
    assert first.mark_price == 101.0  # an earlier state never changes
    with pytest.raises(TypeError):
        first["markPrice"] = 5.0  # type: ignore[index]


def test_snapshot_replaces_everything() -> None:
    state = TickerState()
    state.apply(tu(True, 1, lastPrice=100.0, fundingRate=0.0001))
    after = state.apply(tu(True, 2, lastPrice=90.0))
    assert "fundingRate" not in after and after.last_price == 90.0


def test_delta_before_any_snapshot_is_marked_incomplete() -> None:
    t = TickerState().apply(tu(False, 5, markPrice=1.0))
    assert not t.complete and t.mark_price == 1.0 and t.last_price is None


def test_recorded_linear_and_inverse_streams_merge() -> None:
    evs = [decode(f) for f in lines("tardis-node/mappers.test.ts__bybit_v5_messagesV5.jsonl")]
    states: dict[str, TickerState] = {}
    last = {}
    for ev in evs:
        if isinstance(ev, TickerUpdate):
            last[ev.symbol] = states.setdefault(ev.symbol, TickerState()).apply(ev)
    inverse = last["BTCUSD"]
    assert inverse.complete and inverse["openInterest"] == 449736674.0  # from the delta
    assert inverse["tickDirection"] == "MinusTick" and inverse.last_price == 28560.0  # kept from the snapshot
    assert inverse.bid_price == 28560.0 and inverse.ask_price == 28560.5


def test_option_ticker_uses_option_field_names() -> None:
    ev = decode(lines("tardis-node/mappers.test.ts__bybit_options_v5_messages.jsonl")[4])
    assert isinstance(ev, TickerUpdate)
    t = TickerState().apply(ev)
    assert t.bid_price == 0.34 and t.ask_price == 3.11


def test_tickers_handed_out_never_change_while_later_deltas_merge() -> None:
    """The state shares its fields with the ticker it returns and copies them only when that ticker
    is still held at the next delta: held tickers keep their values, dropped ones cost no copy."""
    import random

    from rxbybit.protocol import TickerState, TickerUpdate

    rng = random.Random(3)
    state = TickerState()
    model = {"symbol": "BTCUSDT", "lastPrice": 1.0, "markPrice": 1.0}
    state.apply(TickerUpdate("tickers.BTCUSDT", "BTCUSDT", True, 1, 1, dict(model)))
    held = []
    for i in range(2, 400):
        change = {rng.choice(("lastPrice", "markPrice", "bid1Price")): float(i)}
        model.update(change)
        ticker = state.apply(TickerUpdate("tickers.BTCUSDT", "BTCUSDT", False, i, i, change))
        assert dict(ticker) == model and ticker.ts == i
        if rng.random() < 0.3:
            held.append((ticker, dict(model)))
    assert len(held) > 50
    for ticker, fields in held:
        assert dict(ticker) == fields
