"""Helpers for the conformance group: third-party Bybit clients pointed at the simulator.

Only URLs change (and ccxt's markets, set by hand: the simulator serves no REST). Every URL is
``ws://127.0.0.1:<port>/...``; the suite's loopback guard fails any attempt to go elsewhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from rxbybit.sim import Simulator


class Inbox:
    """Messages a third-party client hands its callbacks (from its own threads), kept in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[Any] = []

    def __call__(self, message: Any) -> None:
        with self._lock:
            self.items.append(message)

    def where(self, check: Callable[[Any], bool]) -> list[Any]:
        """The messages so far that pass ``check``."""
        with self._lock:
            return [m for m in self.items if check(m)]


def rows(inbox: Inbox, check: Callable[[dict[str, Any]], bool] = lambda r: True) -> list[dict[str, Any]]:
    """Every ``data`` row of the V5 pushes in ``inbox`` that passes ``check``."""
    out: list[dict[str, Any]] = []
    for m in inbox.where(lambda m: isinstance(m, dict)):
        data = m.get("data")
        for r in data if isinstance(data, list) else [data]:
            if isinstance(r, dict) and check(r):
                out.append(r)
    return out


def mid_price(sim: Simulator, category: str, symbol: str) -> float:
    """The simulated market's mid price now."""
    market = sim.markets[category][symbol]  # type: ignore[index]
    return market.inst.pxf(market.mid() or market.ref)


def ccxt_ws_urls(sim: Simulator) -> dict[str, Any]:
    """ccxt.pro bybit's ``urls['api']['ws']`` with every socket on the simulator."""
    base = sim.url
    return {
        "public": {cat: f"{base}/v5/public/{cat}" for cat in ("spot", "linear", "inverse", "option")},
        "private": {
            "spot": {"unified": f"{base}/v5/private", "nonUnified": f"{base}/spot/private/v3"},
            "contract": f"{base}/v5/private",
            "usdc": f"{base}/v5/private",
            "trade": f"{base}/v5/trade",
        },
    }


def ccxt_markets(sim: Simulator, symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")) -> list[dict[str, Any]]:
    """ccxt's unified market structures for the simulator's spot and linear ``symbols``, by hand."""
    out: list[dict[str, Any]] = []
    for category in ("spot", "linear"):
        for symbol in symbols:
            inst = sim.universe[category][symbol]
            spot = category == "spot"
            tick = float(Decimal(inst.tick).scaleb(-inst.price_dec))
            lot = float(Decimal(inst.lot).scaleb(-inst.qty_dec))
            out.append({
                "id": symbol, "symbol": f"{inst.base}/{inst.quote}" + ("" if spot else f":{inst.settle}"),
                "base": inst.base, "quote": inst.quote, "settle": None if spot else inst.settle,
                "baseId": inst.base, "quoteId": inst.quote, "settleId": None if spot else inst.settle,
                "type": "spot" if spot else "swap", "spot": spot, "margin": False, "swap": not spot,
                "future": False, "option": False, "active": True, "contract": not spot,
                "linear": None if spot else True, "inverse": None if spot else False,
                "taker": 0.001 if spot else 0.00055, "maker": 0.001 if spot else 0.0002,
                "contractSize": None if spot else 1.0, "expiry": None, "expiryDatetime": None,
                "strike": None, "optionType": None,
                "precision": {"price": tick, "amount": lot},
                "limits": {"leverage": {"min": 1, "max": 100}, "amount": {"min": lot, "max": 1e9},
                           "price": {"min": tick, "max": 1e9}, "cost": {"min": None, "max": None}},
                "created": None, "info": {"symbol": symbol, "category": category},
            })
    return out
