"""Synthetic Bybit frames for the dataset tests (shapes as Bybit sends them)."""

from __future__ import annotations

import json

T0 = 1_795_312_085_000
"""2026-11-22 01:48:05 UTC, in exchange milliseconds."""

LINEAR = "/v5/public/linear"
SPOT = "/v5/public/spot"


def trade_frame(n: int, symbol: str = "BTCUSDT", ts: int | None = None, count: int = 2) -> str:
    t = T0 + n * 1000 if ts is None else ts
    data = [{"T": t, "s": symbol, "S": "Buy" if k % 2 == 0 else "Sell", "v": f"0.{k + 1}", "p": f"{60000 + n}.{k}",
             "L": "PlusTick", "i": f"{n}-{k}", "BT": False, "seq": 1000 + n} for k in range(count)]
    return json.dumps({"topic": f"publicTrade.{symbol}", "type": "snapshot", "ts": t, "data": data})


def book_frame(u: int, symbol: str = "BTCUSDT", snapshot: bool = False, ts: int | None = None) -> str:
    t = T0 + u * 100 if ts is None else ts
    return json.dumps({"topic": f"orderbook.50.{symbol}", "type": "snapshot" if snapshot else "delta", "ts": t,
                       "data": {"s": symbol, "b": [[f"{59999 - u % 3}", "1.5"], ["59990", "0"]],
                                "a": [[f"{60001 + u % 3}", "2.25"]], "u": u, "seq": 500 + u}, "cts": t - 3})


def kline_frame(n: int, confirm: bool, symbol: str = "BTCUSDT") -> str:
    start = T0 - T0 % 60_000 + n * 60_000
    return json.dumps({"topic": f"kline.1.{symbol}", "type": "snapshot", "ts": start + 59_000, "data": [
        {"start": start, "end": start + 59_999, "interval": "1", "open": "100", "close": f"{101 + n}",
         "high": "110", "low": "90", "volume": "5.5", "turnover": "550", "confirm": confirm,
         "timestamp": start + 59_000}]})


def ticker_frame(n: int, symbol: str = "BTCUSDT") -> str:
    return json.dumps({"topic": f"tickers.{symbol}", "type": "delta", "ts": T0 + n, "cs": n,
                       "data": {"symbol": symbol, "lastPrice": f"{60000 + n}"}})
