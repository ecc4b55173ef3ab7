"""What one socket session does besides reading: auth first, then the heartbeat, and how a failed
session is described. :class:`~.connection.Connection` runs these around each socket it opens."""

from __future__ import annotations

import asyncio
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from ..errors import AuthenticationError, ExchangeUnreachableError
from ..protocol import requests
from ..protocol.endpoints import Endpoint
from ..protocol.events import AuthResult, Event, Pong
from ..protocol.signing import Credentials


class HeartbeatTimeout(Exception):
    """No pong arrived within the deadline: the server is silent and the socket is replaced."""


class Waiters:
    """The replies a session waits for (the auth result, the next pong), fed from the read path."""

    def __init__(self) -> None:
        self.auth: asyncio.Future[AuthResult] | None = None
        self.pong: asyncio.Future[None] | None = None

    def resolve(self, event: Event) -> bool:
        """Hand ``event`` to whoever waits for it; False when nobody does."""
        if isinstance(event, Pong):
            if self.pong is not None and not self.pong.done():
                self.pong.set_result(None)
            return True
        if isinstance(event, AuthResult) and self.auth is not None and not self.auth.done():
            self.auth.set_result(event)
            return True
        return False

    def cancel(self) -> None:
        """The socket is gone: nobody will answer."""
        for waiter in (self.auth, self.pong):
            if waiter is not None and not waiter.done():
                waiter.cancel()


async def authenticate(ws: ClientConnection, credentials: Credentials, endpoint: Endpoint, waiters: Waiters,
                       reader: asyncio.Task[None], timeout: float) -> None:
    """Send ``auth`` and wait for its result; raise :class:`AuthenticationError` if Bybit refuses,
    ``TimeoutError`` if it does not answer, or whatever ended the reader first."""
    waiter: asyncio.Future[AuthResult] = asyncio.get_running_loop().create_future()
    waiters.auth = waiter
    await ws.send(requests.auth(credentials.api_key, credentials.api_secret, req_id="auth"))
    watched: set[asyncio.Future[Any]] = {waiter, reader}
    done, _ = await asyncio.wait(watched, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        error = reader.exception() if reader in done else None
        if error is not None:
            raise error
        raise TimeoutError(f"no auth reply on {endpoint} within {timeout} s")
    result = waiter.result()
    if not result.success:
        raise AuthenticationError(endpoint, result.message, result.ret_code)


async def heartbeat(ws: ClientConnection, waiters: Waiters, interval: float, timeout: float, url: str) -> None:
    """Send Bybit's JSON ping every ``interval`` seconds; raise :class:`HeartbeatTimeout` when a pong
    does not come within ``timeout``."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(interval)
        waiters.pong = loop.create_future()
        await ws.send(requests.ping(requests.next_req_id("ping")))
        try:
            await asyncio.wait_for(waiters.pong, timeout)
        except TimeoutError:
            raise HeartbeatTimeout(f"no pong from {url} within {timeout} s: replacing the connection") from None


def describe_error(exc: Exception, url: object, simulated: bool) -> str:
    """One line for ``health``: what broke the session; an unreachable exchange mentions the simulator."""
    if isinstance(exc, (OSError, TimeoutError, websockets.InvalidHandshake)):
        hint = "" if simulated else ' (no route to the exchange? network="sim" runs the local simulator)'
        detail = str(exc) or type(exc).__name__
        return f"{ExchangeUnreachableError.__name__}: cannot reach {url}: {detail}{hint}"
    return f"{type(exc).__name__}: {exc}"
