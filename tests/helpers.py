"""Helpers every test folder shares: the timeout factor, ``eventually`` and a plain JSON websocket client.

Timeouts in tests are scaled by one factor, ``RXBYBIT_TEST_TIMEOUT_FACTOR`` (default 1), so a slow
machine raises it once instead of every test growing its own margin. ``eventually`` waits on a
condition (bounded); it is not a sleep: it returns the moment the condition holds.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection

TIMEOUT_FACTOR: float = float(os.environ.get("RXBYBIT_TEST_TIMEOUT_FACTOR", "1") or 1)
"""Multiplies every test timeout (set RXBYBIT_TEST_TIMEOUT_FACTOR=3 on a slow machine)."""


def scaled(seconds: float) -> float:
    """``seconds`` times the timeout factor."""
    return seconds * TIMEOUT_FACTOR


async def eventually(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Return as soon as ``check()`` holds; fail naming ``what`` after ``timeout`` (scaled) seconds."""
    limit = scaled(timeout)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {limit} s waiting for {what}")
        await asyncio.sleep(0.005)


class JsonWsClient:
    """Sends dicts as JSON, decodes every frame it reads and keeps it in ``seen``."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[Any] = []

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))

    async def recv(self, timeout: float = 5.0) -> Any:
        raw = await asyncio.wait_for(self.ws.recv(), scaled(timeout))
        msg = json.loads(raw)
        self.seen.append(msg)
        return msg

    async def until(self, check: Callable[[Any], bool], timeout: float = 5.0, what: str = "a matching frame") -> Any:
        """Read frames until one satisfies ``check`` (fails after ``timeout`` s, scaled, naming ``what``)."""
        timeout = scaled(timeout)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} within {timeout} s; last frames: {self.seen[-3:]}")
            try:
                msg = await self.recv(left / TIMEOUT_FACTOR)
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
