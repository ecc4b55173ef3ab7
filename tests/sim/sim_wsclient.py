"""A bare websocket client for the simulator tests (not the rxbybit client)."""

from __future__ import annotations

import time
from typing import Any

from helpers import JsonWsClient

from rxbybit.protocol.signing import sign
from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET


class WsClient(JsonWsClient):
    """The shared test client plus Bybit's auth handshake."""

    async def auth(self, key: str = DEMO_API_KEY, secret: str = DEMO_API_SECRET, *, expires_in_ms: int = 10_000,
                   req_id: Any = None) -> Any:
        expires = time.time_ns() // 1_000_000 + expires_in_ms
        frame: dict[str, Any] = {"op": "auth", "args": [key, expires, sign(secret, expires)]}
        if req_id is not None:
            frame["req_id"] = req_id
        await self.send(frame)
        return await self.until(lambda m: m.get("op") == "auth")
