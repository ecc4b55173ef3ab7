"""A seeded TCP fault proxy for chaos tests: it sits between a client and a server on 127.0.0.1
and delays, splits, stalls and cuts what flows through it.

Every decision (how long a connection lives, where a write is split, when a direction stalls,
when the listener refuses connections) is drawn from one ``random.Random(seed)`` per proxy and one
per connection, so a run is repeatable in its faults (the timing of the machine is not).
Faults apply while :attr:`FaultProxy.chaos` is set; :attr:`latency` applies always. Nothing here
sleeps without bound: every stall, outage and connection lifetime is drawn from a finite range.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from types import TracebackType


@dataclass(frozen=True)
class Chaos:
    """What goes wrong, and how often (rates are per second, per connection unless said)."""

    cut_every_s: float = 4.0
    """Mean life of a connection before it is cut (exponential); the cut may fall mid-frame."""
    split_probability: float = 0.3
    """Chance a chunk is written in two to four pieces, with a short pause between them."""
    stall_rate: float = 0.05
    """Stalls per second per direction; a stall holds every byte of that direction."""
    stall_s: tuple[float, float] = (0.2, 2.5)
    outage_rate: float = 0.02
    """Outages per second (proxy-wide): every connection is cut and new ones are refused."""
    outage_s: tuple[float, float] = (0.5, 4.0)


@dataclass
class ProxyStats:
    """What the proxy did, for reports."""

    accepted: int = 0
    refused: int = 0
    cuts: int = 0
    mid_frame_cuts: int = 0
    stalls: int = 0
    splits: int = 0
    outages: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    outage_s: float = 0.0


@dataclass
class _Link:
    """One proxied connection: its two sockets and its own random stream."""

    rng: random.Random
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stalled_until: list[float] = field(default_factory=lambda: [0.0, 0.0])
    cut_due: bool = False
    closed: bool = False


class FaultProxy:
    """Listens on 127.0.0.1 and forwards every connection to ``(host, port)`` with faults.

    ``latency`` seconds are added to every chunk in each direction (order is kept), so a round
    trip costs ``2 * latency`` more. Set :attr:`chaos` to a :class:`Chaos` to start the faults and
    to None to stop them (connections then flow cleanly, with the latency).
    """

    def __init__(self, host: str, port: int, *, seed: int = 0, latency: float = 0.0) -> None:
        self.target = (host, port)
        self.latency = latency
        self.chaos: Chaos | None = None
        self.stats = ProxyStats()
        self._rng = random.Random(seed)
        self._seed = seed
        self._server: asyncio.Server | None = None
        self._links_list: list[_Link] = []
        self._refuse_until = 0.0
        self._ticker: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The proxy's base URL for a websocket client."""
        return f"ws://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        return self

    async def __aexit__(self, typ: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        for link in list(self._links_list):
            self._cut(link, mid_frame=False)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def outage(self, seconds: float) -> int:
        """Cut every connection and refuse new ones for ``seconds``; returns connections cut."""
        if not 0 < seconds <= 600:
            raise ValueError(f"an outage lasts (0, 600] seconds, not {seconds!r}")
        self._refuse_until = asyncio.get_running_loop().time() + seconds
        self.stats.outages += 1
        self.stats.outage_s += seconds
        return self.cut_all()

    def cut_all(self) -> int:
        """Cut every open connection now; returns how many."""
        links = [link for link in self._links_list if not link.closed]
        for link in links:
            self._cut(link, mid_frame=False)
        return len(links)

    # ------------------------------------------------------------------ internals

    async def _tick(self) -> None:
        """Proxy-wide faults: outages."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.1)
            chaos = self.chaos
            if chaos is None or loop.time() < self._refuse_until:
                continue
            if self._rng.random() < chaos.outage_rate * 0.1:
                length = self._rng.uniform(*chaos.outage_s)
                self._refuse_until = loop.time() + length
                self.stats.outages += 1
                self.stats.outage_s += length
                self.cut_all()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() < self._refuse_until:
            self.stats.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.stats.accepted += 1
        link = _Link(random.Random(f"{self._seed}-{self.stats.accepted}"), [writer, up_writer])
        self._links_list.append(link)
        link.tasks = [
            loop.create_task(self._pump(link, 0, reader, up_writer)),
            loop.create_task(self._pump(link, 1, up_reader, writer)),
            loop.create_task(self._life(link)),
        ]
        await asyncio.gather(*link.tasks, return_exceptions=True)
        self._cut(link, mid_frame=False)
        with contextlib.suppress(ValueError):
            self._links_list.remove(link)

    async def _life(self, link: _Link) -> None:
        """While chaos is on: stall a direction now and then, and cut the connection after a
        random life (mid-frame when data is flowing: the next chunk down is written in part)."""
        loop = asyncio.get_running_loop()
        lifetime: float | None = None
        age = 0.0
        while not link.closed:
            await asyncio.sleep(0.1)
            chaos = self.chaos
            if chaos is None:
                lifetime, age = None, 0.0
                continue
            for direction in (0, 1):
                if link.rng.random() < chaos.stall_rate * 0.1:
                    link.stalled_until[direction] = loop.time() + link.rng.uniform(*chaos.stall_s)
                    self.stats.stalls += 1
            if lifetime is None:
                lifetime = link.rng.expovariate(1.0 / chaos.cut_every_s)
            age += 0.1
            if age >= lifetime:
                link.cut_due = True  # the downstream pump cuts inside its next chunk
                await asyncio.sleep(0.5)
                self._cut(link, mid_frame=False)
                return

    def _cut(self, link: _Link, *, mid_frame: bool) -> None:
        if link.closed:
            return
        link.closed = True
        self.stats.cuts += 1
        if mid_frame:
            self.stats.mid_frame_cuts += 1
        for w in link.writers:
            w.transport.abort()
        current = asyncio.current_task()
        for t in link.tasks:
            if t is not current:
                t.cancel()

    async def _pump(self, link: _Link, direction: int, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        """Copy one direction, adding latency, splits and stalls; cut mid-chunk when chosen."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def read() -> None:
            while True:
                data = await reader.read(65_536)
                if not data:
                    await queue.put(None)
                    return
                await queue.put((loop.time() + self.latency, data))

        reading = loop.create_task(read())
        try:
            while True:
                item = await queue.get()
                if item is None:
                    with contextlib.suppress(Exception):
                        writer.write_eof()
                    return
                due, data = item
                hold = max(due, link.stalled_until[direction]) - loop.time()
                if hold > 0:
                    await asyncio.sleep(hold)
                if direction:
                    self.stats.bytes_down += len(data)
                else:
                    self.stats.bytes_up += len(data)
                if link.cut_due and direction and len(data) > 1:
                    writer.write(data[: link.rng.randrange(1, len(data))])  # part of a frame, then gone
                    self._cut(link, mid_frame=True)
                    return
                chaos = self.chaos
                if chaos is not None and len(data) > 1 and link.rng.random() < chaos.split_probability:
                    self.stats.splits += 1
                    cuts = sorted(link.rng.sample(range(1, len(data)), min(len(data) - 1, link.rng.randint(1, 3))))
                    start = 0
                    for end in [*cuts, len(data)]:
                        writer.write(data[start:end])
                        await writer.drain()
                        start = end
                        if end < len(data):
                            await asyncio.sleep(link.rng.uniform(0.0, 0.02))
                        if link.closed:
                            return
                else:
                    writer.write(data)
                    await writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            reading.cancel()
