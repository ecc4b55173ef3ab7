"""Hostile gateway requests, generated from a seed: what a fuzzing client throws at the gateway.

Shared by the bounded fuzz test (``tests/gateway/test_gateway_hostile.py``) and the long run in
``bench/bench_gateway_hostile.py``. Every request is a text or binary websocket message.
"""

from __future__ import annotations

import json
import random
from typing import Any

LISTED = ["tickers.BTCUSDT", "tickers.ETHUSDT", "publicTrade.BTCUSDT", "orderbook.50.ETHUSDT", "kline.1.BTCUSDT",
          "orderbook.1.BTCUSDT", "orderbook.200.ETHUSDT", "publicTrade.ETHUSDT"]
"""Topics the simulator lists (on linear; spot has them too)."""


def _nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def hostile_request(rng: random.Random, n: int) -> str | bytes:
    """The ``n``-th hostile message of a connection (any of about twenty kinds)."""
    kind = rng.randrange(22)
    rid: Any = n
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 200))
    if kind == 1:
        return "".join(rng.choice("{}[]\":,0123456789abcdefnulltrue \\") for _ in range(rng.randrange(1, 300)))
    if kind == 2:
        return json.dumps({"path": "/external", "id": rid, "payload": {"op": "ping", "req_id": _nested(
            rng.randrange(30, 300), "x")}})
    if kind == 3:
        return json.dumps({"path": "/external", "id": rid, "payload": {"direction": "spot", "op": "ping",
                                                                      "req_id": "r" * rng.randrange(60, 15_000)}})
    if kind == 4:
        return '{"path": "/symbols", "id": 1, "payload": {"n": ' + "9" * rng.randrange(19, 400) + "}}"
    if kind == 5:
        return json.dumps({"path": "/" + "".join(rng.choices("abcdefgh/_.", k=rng.randrange(1, 600))), "id": rid})
    if kind == 6:
        token = "".join(rng.choices("abcdefghijklmnopqrstuvwxyzABCDEF0123456789-_", k=rng.randrange(1, 600)))
        return json.dumps({"path": "authorization", "id": rid, "payload": {"accessToken": token,
                                                                          "fingerprint": "fp"}})
    if kind == 7:
        direction = rng.choice(["linear", "spot", "inverse", "option"])
        names = [f"tickers.Z{rng.randrange(10**9)}USDT" for _ in range(rng.randrange(1, 12))]
        return json.dumps({"path": "/external", "id": rid, "payload": {"direction": direction, "op": "subscribe",
                                                                      "args": names}})
    if kind in (8, 9):
        direction = rng.choice(["linear", "spot"])
        return json.dumps({"path": "/external", "id": rid, "payload": {
            "direction": direction, "op": rng.choice(["subscribe", "unsubscribe"]),
            "args": rng.sample(LISTED, rng.randrange(1, 4))}})
    if kind == 10:
        return json.dumps({"path": "/unsubscribe", "id": rid, "payload": {"path": rng.choice(
            ["/spot/order_events", "/external/linear/" + rng.choice(LISTED), "/symbols", "x" * 500])}})
    if kind == 11:
        return json.dumps({"path": rng.choice(["/user/profile", "/user/notifications"]), "id": rid})
    if kind == 12:
        return json.dumps({"path": "/external", "id": rid, "payload": {"direction": "private", "op": "subscribe",
                                                                      "args": ["order", "wallet"]}})
    if kind == 13:
        return json.dumps({"path": "/symbols", "id": rid})
    if kind == 14:
        return json.dumps({"path": "/external", "id": rid, "payload": {"op": rng.choice(["auth", "order.create",
                                                                                        "subscribe", 7, None])}})
    if kind == 15:
        return json.dumps({"path": "/symbols", "payload": {"pad": "y" * rng.randrange(16_000, 40_000)}})
    if kind == 16:
        return json.dumps(_nested(rng.randrange(100, 900), 1))
    if kind == 17:
        return json.dumps({"path": "/external", "id": rng.choice([2**64, -(2**70), 1.5, [1], {"a": 1}, "i" * 70]),
                           "payload": {"op": "ping"}})
    if kind == 18:
        return json.dumps({"path": "/external", "id": rid, "payload": {"direction": rng.choice(
            ["futures", "", "x" * 600, 5, None, "private"])}})
    if kind == 19:
        return json.dumps({"path": "/external", "id": rid, "payload": {"direction": "linear", "op": "subscribe",
                                                                      "args": ["orderbook.30.BTCUSDT", "", "a" * 520,
                                                                               "tickers.btcusdt"]}})
    if kind == 20:
        return b"\xed\xa0\x80{" if rng.random() < 0.5 else json.dumps({"path": "\u0000/external\uffff", "id": rid})
    coin = rng.choice(["BTC", "ZZZ"])
    return json.dumps({"path": "/external", "id": rid, "payload": {"direction": "option", "op": "subscribe",
                                                                  "args": [f"publicTrade.{coin}"]}})
