"""The websockets internals rxbybit relies on: the pinned range, every hook still there, and each
helper doing what its callers expect, against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
import tomllib
from pathlib import Path

from helpers import scaled
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode

from rxbybit.transport import ws_internals as wsi

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_installed_websockets_is_in_the_supported_range_that_pyproject_pins() -> None:
    low, high = wsi.SUPPORTED
    assert low <= wsi.version()[0] < high, f"websockets {wsi.version()} is outside {wsi.SUPPORTED}"
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (pin,) = [d for d in deps if re.match(r"websockets\b", d)]
    assert pin.replace(" ", "") == f"websockets>={low}.0,<{high}", pin


def test_every_internal_hook_exists() -> None:
    assert callable(ClientConnection.process_event)
    assert callable(Connection.send_data)
    assert "send_in_progress" in Connection.__init__.__code__.co_names or hasattr(Connection, "send_in_progress")
    for name in ("send_text", "send_frame", "state"):
        assert hasattr(__import__("websockets.protocol", fromlist=["Protocol"]).Protocol, name)


class PongRecorder(ClientConnection):
    """Keeps the payload of every pong frame received."""

    pongs: list[bytes]

    def process_event(self, event: object) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PONG:
            self.pongs = [*getattr(self, "pongs", []), bytes(event.data)]
        super().process_event(event)


async def test_the_server_side_helpers_write_count_swallow_pongs_and_abort() -> None:
    opened: asyncio.Queue[ServerConnection] = asyncio.Queue()
    pongs: list[bool] = []

    async def handler(ws: ServerConnection) -> None:
        wsi.on_pong_sent(ws, lambda: pongs.append(True) or len(pongs) > 1)  # swallow the first pong only
        await opened.put(ws)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", ping_interval=None, compression=None,
                           create_connection=PongRecorder) as client:
            assert isinstance(client, PongRecorder)
            ws = await asyncio.wait_for(opened.get(), scaled(5))
            assert wsi.is_open(ws)
            for i in range(3):
                wsi.write_text_now(ws, f"frame {i}".encode())
            assert [await asyncio.wait_for(client.recv(), scaled(5)) for _ in range(3)] == [
                "frame 0", "frame 1", "frame 2"]
            assert wsi.buffered_bytes(ws) >= 0
            for size in (5, 300, 70_000):  # each header length form
                payload = ("x" * size).encode()
                assert wsi.write_frame_directly(ws, wsi.text_frame(payload))
                assert await asyncio.wait_for(client.recv(), scaled(5)) == payload.decode()
            await client.ping(b"one")
            await asyncio.wait_for(await client.ping(b"two"), scaled(5))  # pongs come in order: a barrier
            assert len(pongs) == 2
            assert client.pongs == [b"two"]  # the first pong was swallowed
            wsi.abort(ws)
            await asyncio.wait_for(client.wait_closed(), scaled(5))
            assert client.close_code == 1006  # dropped without a close frame, as a real outage
            assert wsi.buffered_bytes(ws) == 0 and not wsi.is_open(ws)
            assert not wsi.write_frame_directly(ws, wsi.text_frame(b"late"))  # closed: the caller falls back


async def test_nothing_is_written_into_a_socket_that_is_already_going_away(caplog: object) -> None:
    """A fan-out loop writes many frames in one loop iteration; once the peer's TCP connection is gone
    (aborted, reset) and before websockets has noticed, the helpers must write nothing: asyncio counts
    each such write and, from the fifth, logs "socket.send() raised exception." for every frame."""
    import logging

    import pytest

    assert isinstance(caplog, pytest.LogCaptureFixture)
    opened: asyncio.Queue[ServerConnection] = asyncio.Queue()

    async def handler(ws: ServerConnection) -> None:
        await opened.put(ws)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", ping_interval=None, compression=None) as client:
            ws = await asyncio.wait_for(opened.get(), scaled(5))
            assert ws.transport is not None
            with caplog.at_level(logging.WARNING, logger="asyncio"):
                ws.transport.abort()  # the connection is lost; websockets hears of it on a later iteration
                assert ws.protocol.state.name == "OPEN"  # ... so its state still says OPEN here,
                assert not wsi.is_open(ws)  # ... but the helpers know better
                frame = wsi.text_frame(b"late")
                assert not any([wsi.write_frame_directly(ws, frame) for _ in range(20)])
                for _ in range(20):
                    wsi.write_text_now(ws, b"late")
                await asyncio.wait_for(client.wait_closed(), scaled(5))
            assert "socket.send() raised exception" not in caplog.text
