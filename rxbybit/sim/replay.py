"""Replay mode: serve a recording of raw Bybit frames as if the exchange were sending them.

A recording is JSONL, one object a line, as ``rxbybit record`` writes it::

    {"t": 1719830000.123, "path": "/v5/public/linear", "frame": "{\\"topic\\":...}"}

Each connection on a recorded path gets its own playback, which starts at its first subscribe
and carries only the data frames of the topics it subscribed, spaced as recorded divided by
``speed`` (``speed=0``: as fast as the socket takes them). Acks and pongs are generated in the
endpoint's shapes; recorded control frames are not replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..protocol import replies
from ..protocol.clock import now_ms
from ..protocol.endpoints import PATH_ENDPOINTS, SIMULATOR_HEADER, req_id_key
from ..protocol.json_codec import JSONDecodeError, dumps, loads


@dataclass(frozen=True, slots=True)
class Recorded:
    """One recorded frame: receive time (epoch s), socket path, raw text and its topic (if any)."""

    t: float
    path: str
    frame: str
    topic: str | None


def recording_line(path: str, frame: str | bytes, t: float | None = None) -> str:
    """One JSONL line of a recording (what :func:`load_recording` reads): ``frame`` received on socket
    ``path`` at ``t`` (epoch s; now if None), newline included."""
    text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
    return dumps({"t": time.time() if t is None else t, "path": path, "frame": text}) + "\n"


def load_recording(source: str | Path | Iterable[str]) -> list[Recorded]:
    """Parse a JSONL recording (a file path or lines); raises ``ValueError`` naming the bad line."""
    lines: Iterable[str] = Path(source).read_text().splitlines() if isinstance(source, str | Path) else source
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = loads(line)
            t, path, frame = float(rec["t"]), rec["path"], rec["frame"]
        except (JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"recording line {n} is not {{'t', 'path', 'frame'}}: {exc}") from exc
        if path not in PATH_ENDPOINTS or not isinstance(frame, str):
            raise ValueError(f"recording line {n}: unknown path {path!r} or frame not a string")
        topic = None
        with contextlib.suppress(JSONDecodeError):
            msg = loads(frame)
            if isinstance(msg, dict) and isinstance(msg.get("topic"), str):
                topic = msg["topic"]
        out.append(Recorded(t, path, frame, topic))
    out.sort(key=lambda r: r.t)
    return out


class ReplayServer:
    """Serves a recording on loopback (async context manager, like :class:`~.server.Simulator`)."""

    def __init__(self, recording: str | Path | Iterable[str] | list[Recorded], host: str = "127.0.0.1",
                 port: int = 0, speed: float = 1.0) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0 (0 = as fast as possible), got {speed!r}")
        records = recording if isinstance(recording, list) and all(isinstance(r, Recorded) for r in recording) \
            else load_recording(recording)  # type: ignore[arg-type]
        self.by_path: dict[str, list[Recorded]] = defaultdict(list)
        for r in records:
            self.by_path[r.path].append(r)
        self.host, self.speed, self._port = host, speed, port
        self._server: Server | None = None

    @property
    def url(self) -> str:
        """Base URL of the replay server."""
        return f"ws://{self.host}:{self._port}"

    @property
    def port(self) -> int:
        """The bound port."""
        return self._port

    async def __aenter__(self) -> ReplayServer:
        self._server = await serve(self._handle, self.host, self._port, ping_interval=None, compression=None,
                                   process_response=_announce_replay)
        self._port = int(next(iter(self._server.sockets)).getsockname()[1])
        return self

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        path = urlsplit(ws.request.path if ws.request else "/").path
        endpoint = PATH_ENDPOINTS.get(path)
        if endpoint is None:
            await ws.close(1008, f"no recording for path {path!r}")
            return
        topics: set[str] = set()
        started = asyncio.Event()
        player = asyncio.create_task(self._play(ws, path, topics, started))
        try:
            async for message in ws:
                text = message if isinstance(message, str) else bytes(message).decode("utf-8", "replace")
                self._control(ws, endpoint, text, topics, started)
        except ConnectionClosed:
            pass
        finally:
            player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await player

    def _control(self, ws: ServerConnection, endpoint: Any, text: str, topics: set[str],
                 started: asyncio.Event) -> None:
        try:
            msg = loads(text)
        except JSONDecodeError:
            msg = None
        conn_id = "sim-replay"
        if not isinstance(msg, dict):
            reply = replies.command_ack(endpoint, conn_id, "", replies.MISSING, success=False,
                                       ret_msg=replies.decode_error(text))
        else:
            req_id = msg.get(req_id_key(endpoint), replies.MISSING)
            op = msg.get("op")
            if op == "ping":
                reply = replies.pong(endpoint, conn_id, req_id, now_ms())
            elif op in ("subscribe", "unsubscribe") and isinstance(msg.get("args"), list):
                args = [a for a in msg["args"] if isinstance(a, str)]
                if op == "subscribe":
                    topics.update(args)
                else:
                    topics.difference_update(args)
                reply = replies.command_ack(endpoint, conn_id, op, req_id)
            else:
                reply = replies.command_ack(endpoint, conn_id, str(op or ""), req_id, success=False,
                                           ret_msg=replies.INVALID_OP)
        asyncio.get_running_loop().create_task(_send(ws, dumps(reply)))
        if topics:
            started.set()  # after the ack is queued, so the ack goes out first

    async def _play(self, ws: ServerConnection, path: str, topics: set[str], started: asyncio.Event) -> None:
        await started.wait()
        records = self.by_path.get(path, [])
        if not records:
            return
        t0, wall0 = records[0].t, time.monotonic()
        for r in records:
            if self.speed > 0:
                delay = wall0 + (r.t - t0) / self.speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if r.topic is not None and r.topic in topics:
                await ws.send(r.frame)


def _announce_replay(connection: ServerConnection, request: Request, response: Response) -> None:
    """Say in every handshake that this is a recording played back: clients label it REPLAY."""
    response.headers[SIMULATOR_HEADER] = "replay"


async def _send(ws: ServerConnection, text: str) -> None:
    with contextlib.suppress(ConnectionClosed):
        await ws.send(text)
