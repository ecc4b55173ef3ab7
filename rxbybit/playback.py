"""Record what a client receives, and replay a recording as a network whose streams end with it.

Record (JSONL, one raw frame a line, the format ``rxbybit record`` writes and ``rxbybit sim
--replay`` serves)::

    async with rb.Recorder(bybit, "btc.jsonl", topics=["orderbook.50.BTCUSDT", "publicTrade.BTCUSDT"]):
        await asyncio.sleep(60)

Replay (labelled REPLAY; every stream completes when the recording ends, so it can be awaited)::

    bybit = rb.Bybit(network=rb.replay("btc.jsonl", speed=10))
    trades = await bybit.trades("BTCUSDT").pipe(rx_ops.to_list())   # returns at the end

A time window (``start <= receive time < end``; datetimes, pandas Timestamps, ISO text or epoch
ms, as ``rb.dataset(...).trades(start, end)`` takes them), for a JSONL file and a Parquet dataset
alike; books are exact from the window's start (:mod:`rxbybit.recordings.window`)::

    rb.replay("btc.jsonl", start="2026-11-30 12:00", end="2026-11-30 12:05", speed=10)

``rb.replay(..., paused=True)`` holds the playback until ``await replay.start()`` (subscribe your
views first); ``await replay.stop()`` ends it early. :func:`replay` picks a player by the kind of
source (:data:`PLAYERS`): JSONL files and lines, and Parquet dataset directories.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import pandas as pd
from reactivex import abc

from .client import Bybit, Provenance
from .protocol.endpoints import ENDPOINT_PATHS, Endpoint
from .protocol.topics import parse
from .recordings.times import TimeLike, check_window
from .recordings.window import window
from .sim.replay import Recorded, ReplayServer, load_recording, recording_line

RecordingSource = str | Path | Iterable[str] | list[Recorded]
"""A recording: a file path, its lines, or recorded frames (a Parquet dataset's ``records()``)."""


class _Player(ReplayServer):
    """The simulator's replay server, holding playback until started and telling when it ended."""

    def __init__(self, records: list[Recorded], speed: float, go: asyncio.Event, ended: asyncio.Event) -> None:
        super().__init__(records, "127.0.0.1", 0, speed=speed)
        self._go, self._ended = go, ended
        self._playing = 0

    async def _play(self, ws: Any, path: str, topics: set[str], started: asyncio.Event) -> None:
        await started.wait()
        await self._go.wait()
        if self._ended.is_set():
            return  # a socket reconnecting after the end gets nothing: the recording is over
        self._playing += 1
        finished = False
        try:
            await super()._play(ws, path, topics, started)
            finished = True
        finally:
            self._playing -= 1
        if finished:
            # The close handshake completes only after the client has read every frame before it,
            # so once it returns the client holds the whole recording.
            # (The server's handler cancels this task once the socket closes: set the end regardless.)
            try:
                with contextlib.suppress(Exception):
                    await ws.close(1000, "end of recording")
            finally:
                if self._playing == 0:
                    self._ended.set()


class Replay:
    """A recording played back on loopback as a network: ``rb.Bybit(network=replay)``.

    Each socket's playback starts at its first subscribe (and not before :meth:`start` when made
    with ``paused=True``), spaced as recorded divided by ``speed`` (0: as fast as possible). The
    replay has ended once every playback that started has sent its last frame (or :meth:`stop`
    was called); the client then completes every stream. Streams are labelled REPLAY. A replay
    plays once: make another with :func:`replay` to play the file again. ``start``/``end`` keep
    the frames received in ``start <= t < end``, books exact from the start (see :func:`replay`).
    """

    provenance = Provenance.REPLAY
    name = "replay"

    def __init__(self, source: RecordingSource, *, speed: float = 1.0, start: TimeLike = None,
                 end: TimeLike = None, paused: bool = False) -> None:
        _refuse_bool_start(start)
        if speed < 0:
            raise ValueError(f"speed must be >= 0 (0 = as fast as possible), got {speed!r}")
        lo, hi = check_window(start, end)
        self.source = source
        records: list[Recorded] = (
            sorted((r for r in source if isinstance(r, Recorded)), key=lambda r: r.t)  # stable: keeps lead-ins first
            if isinstance(source, list) and all(isinstance(r, Recorded) for r in source)
            else load_recording(source)  # type: ignore[arg-type]  # a path or JSONL lines
        )
        where = f"the recording {str(source)!r}" if isinstance(source, str | Path) else "the recording"
        self.records: list[Recorded] = window(records, lo, hi, where)
        """The frames to play, oldest first (a window's folded lead-in snapshots first, see :func:`replay`)."""
        self.window: tuple[pd.Timestamp | None, pd.Timestamp | None] = (lo, hi)
        """``(start, end)`` of the window as UTC timestamps (None: the recording's own beginning/end)."""
        self.speed = speed
        self._autostart = not paused
        self._go: asyncio.Event | None = None
        self._ended: asyncio.Event | None = None
        self._server: _Player | None = None
        self._users = 0

    def __repr__(self) -> str:
        where = self.source if isinstance(self.source, str | Path) else "lines"
        state = "ended" if self.ended else ("playing" if self._server else "idle")
        lo, hi = self.window
        span = "" if lo is None and hi is None else \
            f" from {'the start' if lo is None else lo.isoformat()} to {'the end' if hi is None else hi.isoformat()}"
        return f"<Replay {where}{span} REPLAY {len(self.records)} frames speed={self.speed:g} {state}>"

    @property
    def duration_s(self) -> float:
        """Recorded time from the first frame to the last, in seconds."""
        return self.records[-1].t - self.records[0].t if self.records else 0.0

    @property
    def ended(self) -> bool:
        """True once the recording has been played to its end (or stopped)."""
        return self._ended is not None and self._ended.is_set()

    def _events(self) -> tuple[asyncio.Event, asyncio.Event]:
        if self._go is None or self._ended is None:
            self._go, self._ended = asyncio.Event(), asyncio.Event()
            if self._autostart:
                self._go.set()
        return self._go, self._ended

    async def start(self) -> None:
        """Let the playback begin (sockets already subscribed start now)."""
        self._events()[0].set()

    async def stop(self) -> None:
        """End the playback now: clients of this replay complete their streams."""
        go, ended = self._events()
        go.set()
        ended.set()

    async def acquire(self) -> str:
        """Serve the recording on 127.0.0.1 (once, however many clients); returns the base URL."""
        go, ended = self._events()
        if self._server is None:
            server = _Player(self.records, self.speed, go, ended)
            await server.__aenter__()
            self._server = server
        self._users += 1
        return self._server.url

    async def release(self) -> None:
        """One client let go; the server stops with the last one."""
        self._users = max(0, self._users - 1)
        if self._users == 0 and self._server is not None:
            server, self._server = self._server, None
            await server.__aexit__(None, None, None)

    async def wait_ended(self) -> None:
        """Return when the recording has been played to its end."""
        await self._events()[1].wait()


def _refuse_bool_start(start: object) -> None:
    """``start`` was a bool once (hold the playback); it is a time now: say so instead of guessing."""
    if isinstance(start, bool):
        instead = ("To hold the playback until `await replay.start()`, pass paused=True instead." if not start
                   else "To play at once, leave start out (that is the default).")
        raise TypeError(f"rb.replay(start={start!r}): start is the beginning of a time window now, not a flag "
                        f"(a datetime, pandas Timestamp, ISO text or epoch ms). {instead}")


def _dataset(path: Path, *, speed: float = 1.0, start: TimeLike = None, end: TimeLike = None,
             paused: bool = False) -> Replay:
    _refuse_bool_start(start)
    from .recordings import dataset  # needs the 'dataset' extra (pyarrow, duckdb)

    ds = dataset(path)
    try:
        records = ds.replay_records(start, end)  # the window through DuckDB, books exact from its start
    finally:
        ds.close()
    replay = Replay(records, speed=speed, paused=paused)
    replay.source = path
    replay.window = check_window(start, end)
    return replay


PLAYERS: dict[str, Callable[..., Replay]] = {".jsonl": Replay, ".json": Replay, "lines": Replay, "dir": _dataset}
"""Players by file suffix (``"lines"``: an iterable of JSONL lines; ``"dir"``: a Parquet dataset
written by ``rxbybit record --format parquet``). Each takes ``(source, *, speed, start, end, paused)``.
Register others here."""


def replay(source: RecordingSource, *, speed: float = 1.0, start: TimeLike = None, end: TimeLike = None,
           paused: bool = False) -> Replay:
    """A recording as a network for ``rb.Bybit(network=...)``, labelled REPLAY.

    Args:
        source: a JSONL recording (path) as :class:`Recorder` or ``rxbybit record`` write it, its lines,
            recorded frames, or a Parquet dataset directory (``rxbybit record --format parquet``).
        speed: 1 plays in recorded time, 10 ten times faster, 0 as fast as possible.
        start: play only frames received at or after this time: a datetime or pandas Timestamp
            (naive means UTC), ISO text, or epoch milliseconds (as ``rb.dataset(...).trades`` takes).
            A topic sent as snapshot + deltas (order books, tickers) that would begin with a delta
            starts from its last snapshot before ``start`` instead, with its deltas up to ``start``
            folded in: one snapshot at the last ``u`` before ``start``, sent first. Every book shown
            equals the recorded book at its ``u`` (:mod:`rxbybit.recordings.window`).
        end: play only frames received before this time (same types).
        paused: True holds the playback until ``await replay.start()``.

    Raises:
        FileNotFoundError: the file does not exist.
        TypeError: ``start`` is a bool (the old way to hold the playback: use ``paused=True``).
        ValueError: an unknown kind of source, a line that is not a recorded frame, a bound that is
            not a time, ``end <= start``, or a window with no frame in it (the message names the
            window and the recording's time span).
    """
    _refuse_bool_start(start)
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"no recording at {str(path)!r}")
        player = PLAYERS.get("dir" if path.is_dir() else path.suffix.lower())
        if player is None:
            kinds = ", ".join(k if k != "dir" else "a Parquet dataset directory" for k in PLAYERS if k != "lines")
            raise ValueError(f"cannot replay {str(path)!r}: known kinds are {kinds}")
        return player(path, speed=speed, start=start, end=end, paused=paused)
    return PLAYERS["lines"](source, speed=speed, start=start, end=end, paused=paused)


class Recorder:
    """Writes every raw frame a client receives on ``endpoints`` to a JSONL file, while open.

    ``topics`` (optional) are subscribed for the time of the recording, so the file holds them
    even when nothing else observes them; frames of whatever else the client observes on the same
    sockets are recorded too. Use it as an async context manager, or call :meth:`start` and
    :meth:`stop`. The file replays with :func:`replay` or ``rxbybit sim --replay``.
    """

    def __init__(self, bybit: Bybit, path: str | Path, topics: Sequence[str] = (),
                 endpoints: Sequence[Endpoint] | None = None, category: Endpoint = "linear") -> None:
        for t in topics:
            parse(t, category)  # a clear error for a bad topic, before any file is opened
        self.bybit = bybit
        self.path = Path(path)
        self.topics = tuple(topics)
        self.category = category
        self.endpoints: tuple[Endpoint, ...] = tuple(endpoints) if endpoints else (category,)
        self.frames = 0
        """Frames written so far."""
        self._file: IO[str] | None = None
        self._subs: list[abc.DisposableBase] = []

    def __repr__(self) -> str:
        state = "recording" if self._file is not None else "stopped"
        return f"<Recorder {self.path} {state} {self.frames} frames>"

    def start(self) -> Recorder:
        """Open the file (it is overwritten) and start writing frames."""
        if self._file is not None:
            raise RuntimeError("this Recorder is already recording")
        self._file = self.path.open("w", encoding="utf-8")
        for endpoint in self.endpoints:
            self._subs.append(self.bybit.frames(endpoint).subscribe(self._writer(ENDPOINT_PATHS[endpoint])))
        for t in self.topics:
            self._subs.append(self.bybit.topic(t, self.category).subscribe(lambda e: None, lambda exc: None))
        return self

    def _writer(self, url_path: str) -> Callable[[str | bytes], None]:
        def write(frame: str | bytes) -> None:
            fh = self._file
            if fh is None:
                return
            fh.write(recording_line(url_path, frame))
            self.frames += 1

        return write

    def stop(self) -> int:
        """Stop recording and close the file; returns the number of frames written."""
        subs, self._subs = self._subs, []
        for s in subs:
            s.dispose()
        fh, self._file = self._file, None
        if fh is not None:
            fh.close()
        return self.frames

    async def __aenter__(self) -> Recorder:
        return self.start()

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def record(bybit: Bybit, path: str | Path, topics: Sequence[str] = (), *,
           endpoints: Sequence[Endpoint] | None = None, category: Endpoint = "linear") -> Recorder:
    """Start a :class:`Recorder` (``recorder.stop()`` ends it; or use ``async with``)."""
    return Recorder(bybit, path, topics, endpoints, category).start()


__all__ = ["PLAYERS", "Recorder", "Replay", "record", "replay"]
