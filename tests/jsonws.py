"""A plain websockets client for tests (not the rxbybit client): JSON in and out, keeps every frame."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection


class JsonWsClient:
    """Sends dicts as JSON, decodes every frame it reads and keeps it in ``seen``."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[Any] = []

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))

    async def recv(self, timeout: float = 5.0) -> Any:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        msg = json.loads(raw)
        self.seen.append(msg)
        return msg

    async def until(self, check: Callable[[Any], bool], timeout: float = 5.0, what: str = "a matching frame") -> Any:
        """Read frames until one satisfies ``check`` (fails after ``timeout`` s naming ``what``)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} within {timeout} s; last frames: {self.seen[-3:]}")
            try:
                msg = await self.recv(left)
            except TimeoutError:
                continue
            if check(msg):
                return msg

    async def collect(self, seconds: float) -> list[Any]:
        """Every frame received during ``seconds`` (bounded wait)."""
        out = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                out.append(await self.recv(left))
            except TimeoutError:
                break
        return out
