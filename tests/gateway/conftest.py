"""Fixtures: a gateway over an embedded simulator on 127.0.0.1, users, and a plain websockets client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import JsonWsClient, eventually, scaled
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rxbybit.gateway import ErrorCode, Gateway, Limits, StoreVerifier, UserStore
from rxbybit.gateway.vault import SecretBox, generate_key

ALICE_KEY, ALICE_SECRET = "SIMaliceKEY0001", "SIMaliceSECRETxxxxxxxxxxxxxxxx0001"
BOB_KEY, BOB_SECRET = "SIMbobKEY0002", "SIMbobSECRETyyyyyyyyyyyyyyyyyy0002"

SIM_OPTIONS: dict[str, Any] = {
    "host": "127.0.0.1", "port": 0, "seed": 3, "symbols": ("BTCUSDT", "ETHUSDT"), "speed": 5.0,
    "accounts": [(ALICE_KEY, ALICE_SECRET), (BOB_KEY, BOB_SECRET)],
}
TEST_SYMBOLS = (("linear", "BTCUSDT"), ("spot", "ETHUSDT"))
OPERATOR_KEY = generate_key()
BOX = SecretBox([OPERATOR_KEY])
"""The operator's key that encrypts Bybit secrets in the tests' user databases."""


class Client(JsonWsClient):
    """A plain websockets client of the gateway that keeps every frame it received."""

    def __init__(self, ws: ClientConnection) -> None:
        super().__init__(ws)
        self._next = 0

    async def until(self, check: Callable[[Any], bool], timeout: float = 8.0, what: str = "a matching frame") -> Any:
        """As the base, with the gateway tests' longer default wait."""
        return await super().until(check, timeout, what)

    async def find(self, check: Callable[[dict[str, Any]], bool], timeout: float = 8.0,
                   what: str = "a matching frame") -> dict[str, Any]:
        """A frame already received, or the next one, that satisfies ``check`` (order-independent)."""
        for msg in self.seen:
            if check(msg):
                return msg
        return await self.until(check, timeout, what)

    async def request(self, path: str, payload: dict[str, Any] | None = None,
                      timeout: float = 8.0) -> dict[str, Any]:
        """Send a request with a fresh id and return its ack or error (events in between are kept)."""
        self._next += 1
        rid = f"r{self._next}"
        frame: dict[str, Any] = {"path": path, "id": rid}
        if payload is not None:
            frame["payload"] = payload
        await self.send(frame)
        return await self.until(lambda m: m.get("id") == rid and m["type"] in ("ack", "error"), timeout,
                                f"reply to {path}")

    async def round_trip(self) -> dict[str, Any]:
        """A barrier: a ping and its reply. The gateway answers in order, so every frame it wrote to
        this connection before is in ``seen`` once this returns (the reply is an ack, or a
        ``NO_DIRECTION`` error before a direction is chosen: either will do)."""
        reply = await self.request("/external", {"op": "ping"})
        assert reply["type"] == "ack" or reply["code"] == ErrorCode.NO_DIRECTION, reply
        return reply

    async def closed_by_gateway(self, timeout: float = 5.0) -> int | None:
        """Read until the gateway closes this connection (fails after ``timeout`` s); its close code."""
        with contextlib.suppress(ConnectionClosed):
            await self.until(lambda m: False, timeout, "the gateway to close the connection")
        return self.ws.close_code

    async def close(self) -> None:
        """Close, reading what is still in flight so the close handshake is not stuck behind it."""

        async def drain() -> None:
            with contextlib.suppress(Exception):
                async for _ in self.ws:
                    pass

        reader = asyncio.create_task(drain())
        await self.ws.close()
        await asyncio.wait_for(reader, 5)

    def events(self, path: str) -> list[dict[str, Any]]:
        return [m for m in self.seen if m["type"] == "event" and m["path"] == path]


@pytest.fixture
def store(tmp_path: Path) -> UserStore:
    return UserStore(tmp_path / "users.db", BOX)


TEST_LIMITS = Limits(max_subscriptions=8, rate=40.0, burst=60.0, max_rate_violations=200)


def make_gateway(store: UserStore, **options: Any) -> Gateway:
    """A gateway over the embedded simulator, as the ``gateway`` fixture's, with ``options`` changed.

    Sessions are re-checked only when a test calls ``recheck_sessions()`` (unless it sets
    ``recheck_interval``), so a sweep never races what a test is doing.
    """
    settings: dict[str, Any] = {"verifier": StoreVerifier(store), "symbols": TEST_SYMBOLS, "sim_options": SIM_OPTIONS,
                                "limits": TEST_LIMITS, "recheck_interval": 3600.0}
    settings.update(options)
    return Gateway("sim", **settings)


@pytest.fixture
async def gateway(store: UserStore) -> AsyncIterator[Gateway]:
    async with make_gateway(store) as gw:
        yield gw


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[Client]:
    c = Client(await connect(gateway.url, max_size=2**22))
    try:
        yield c
    finally:
        await c.close()


async def upstream_subscribed(gateway: Gateway, user: str | None = None) -> None:
    """A barrier: the gateway's upstream client (``user``'s private one, or the public one) holds
    Bybit's acknowledgement of every topic it watches."""
    assert gateway.hub is not None
    hub = gateway.hub
    await eventually(lambda: hub.upstream(user) is not None, what=f"the upstream client of {user or 'the public'}")
    client = hub.upstream(user)
    assert client is not None
    await client.wait_subscribed(timeout=scaled(10))


async def open_client(gateway: Gateway) -> Client:
    """A further client; the caller closes it (``await client.close()``)."""
    return Client(await connect(gateway.url, max_size=2**22))

