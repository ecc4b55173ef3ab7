"""A disposed option topic is unsubscribed on the exchange and the client's subscription machine
settles, whether the option socket's unsubscribe answer names its op or not (Bybit's shape is
unconfirmed; the simulator sends either with ``faults.option_unsubscribe_op``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import eventually

from rxbybit.sim import Simulator

from .conftest import fast_client


def option_subs(sim: Simulator) -> set[str]:
    return {t for c in sim.connections if c.endpoint == "option" for t in c.subs}


@pytest.mark.parametrize("unsubscribe_op", [True, False], ids=["unsub-names-op", "unsub-op-less"])
async def test_a_disposed_option_topic_is_unsubscribed(sim: Simulator, unsubscribe_op: bool) -> None:
    sim.faults.option_unsubscribe_op = unsubscribe_op
    first, second = (f"tickers.{s}" for s in sim.option_symbols()[:2])
    async with fast_client(sim) as bybit:
        frames: list[Any] = []
        tap = bybit.frames("option").subscribe(frames.append)
        kept = bybit.topic(first, "option").subscribe(lambda e: None)
        gone = bybit.topic(second, "option").subscribe(lambda e: None)
        await bybit.wait_subscribed()
        assert option_subs(sim) == {first, second}
        conn = bybit._connection("option")
        await eventually(lambda: conn.settled, what="both option topics settled")

        before = len(frames)
        gone.dispose()
        await eventually(lambda: option_subs(sim) == {first}, what="the exchange to drop the disposed topic")
        await eventually(lambda: conn.settled, what="the unsubscribe answered, nothing left pending")
        answers = [json.loads(f) for f in frames[before:] if '"COMMAND_RESP"' in str(f)]
        assert [a["data"]["successTopics"] for a in answers] == [[second]]
        assert ("op" in answers[0]) is unsubscribe_op, "the simulator sent the shape asked for"

        again: list[Any] = []  # observed again: subscribed afresh, and data flows
        sub = bybit.topic(second, "option").subscribe(again.append)
        await eventually(lambda: bool(again) and conn.settled, what="the re-observed topic streaming")
        assert option_subs(sim) == {first, second}
        for d in (sub, kept, tap):
            d.dispose()
