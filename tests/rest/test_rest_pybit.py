"""pybit's HTTP client, unchanged but for its endpoint, against the simulator's REST API."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pybit.exceptions import InvalidRequestError
from pybit.unified_trading import HTTP

from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET, Simulator


def session(sim: Simulator, secret: str = DEMO_API_SECRET) -> Any:
    s = HTTP(api_key=DEMO_API_KEY, api_secret=secret, max_retries=1, retry_delay=0)
    s.endpoint = f"http://127.0.0.1:{sim.port}"
    return s


async def test_pybit_reads_public_and_signed_endpoints(sim: Simulator) -> None:
    def work() -> dict[str, Any]:
        s = session(sim)
        return {
            "instruments": s.get_instruments_info(category="linear"),
            "kline": s.get_kline(category="linear", symbol="BTCUSDT", interval="5", limit=10),
            "trades": s.get_public_trade_history(category="linear", symbol="BTCUSDT", limit=5),
            "book": s.get_orderbook(category="linear", symbol="BTCUSDT", limit=5),
            "tickers": s.get_tickers(category="spot", symbol="ETHUSDT"),
            "orders": s.get_open_orders(category="linear", symbol="BTCUSDT"),
            "positions": s.get_positions(category="linear", symbol="BTCUSDT"),
            "wallet": s.get_wallet_balance(accountType="UNIFIED"),
            "executions": s.get_executions(category="linear"),
        }

    out = await asyncio.to_thread(work)
    assert all(r["retCode"] == 0 and r["retMsg"] == "OK" for r in out.values())
    assert {r["symbol"] for r in out["instruments"]["result"]["list"]} == set(sim.universe["linear"])
    assert len(out["kline"]["result"]["list"]) == 10
    assert len(out["book"]["result"]["b"]) == 5
    assert out["tickers"]["result"]["list"][0]["symbol"] == "ETHUSDT"
    assert out["orders"]["result"]["list"] == []
    assert out["positions"]["result"]["list"][0]["symbol"] == "BTCUSDT"
    assert out["wallet"]["result"]["list"][0]["accountType"] == "UNIFIED"


async def test_pybit_gets_bybits_error_for_a_bad_signature(sim: Simulator) -> None:
    def work() -> None:
        session(sim, secret="wrong").get_wallet_balance(accountType="UNIFIED")

    with pytest.raises(InvalidRequestError) as info:
        await asyncio.to_thread(work)
    assert info.value.status_code == 10004
