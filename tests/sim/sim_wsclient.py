"""A bare websocket client for the simulator tests (not the rxbybit client)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection

from rxbybit.protocol.signing import sign
from rxbybit.sim import DEMO_API_KEY, DEMO_API_SECRET


class WsClient:
    """A bare websocket client that decodes every frame and keeps what it saw."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[Any] = []

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def recv(self, timeout: float = 5.0) -> Any:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        msg = json.loads(raw)
        self.seen.append(msg)
        return msg

    async def until(self, check: Callable[[Any], bool], timeout: float = 5.0) -> Any:
        """Read frames until one satisfies ``check`` (fails after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching frame within {timeout} s; last frames: {self.seen[-3:]}")
            msg = await self.recv(left)
            if check(msg):
                return msg

    async def collect(self, seconds: float) -> list[Any]:
        """Every frame received during ``seconds``."""
        out = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                out.append(await self.recv(left))
            except TimeoutError:
                break
        return out

    async def auth(self, key: str = DEMO_API_KEY, secret: str = DEMO_API_SECRET, *, expires_in_ms: int = 10_000,
                   req_id: Any = None) -> Any:
        expires = time.time_ns() // 1_000_000 + expires_in_ms
        frame: dict[str, Any] = {"op": "auth", "args": [key, expires, sign(secret, expires)]}
        if req_id is not None:
            frame["req_id"] = req_id
        await self.send(frame)
        return await self.until(lambda m: m.get("op") == "auth")
