"""The dataset recorder: raw frames in, Hive-partitioned Parquet files out.

:class:`DatasetWriter` takes each received frame (``write(path, frame, t)``), decodes the typed
columns of its topic, and buffers rows per partition. Buffers become Parquet row groups when they
reach ``row_group_rows`` or when all buffers together exceed ``max_buffered_rows`` (the largest is
written first), so memory stays bounded however many symbols are recorded. Encoding and writing
run on one writer thread, in order, with at most ``MAX_JOBS`` row groups waiting for it, so the
event loop that feeds the writer only swaps buffers. A file is written under
a hidden temporary name and renamed into place when it is closed: on rotation (``max_file_bytes``,
``max_file_seconds``, a new UTC day) and on :meth:`DatasetWriter.close`. A killed recorder leaves
only hidden ``.tmp`` files, which no reader picks up; what it loses is the rows of its open files.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import logging
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..protocol.endpoints import PATH_ENDPOINTS, Endpoint
from ..protocol.json_codec import JSONDecodeError, loads
from .layout import SCHEMAS, TEMP_SUFFIX, Kind, kind_of, safe_value, split_topic

if TYPE_CHECKING:
    from reactivex import abc

    from ..client import Bybit

log = logging.getLogger("rxbybit.recordings")

Partition = tuple[str, str, str, str]
"""``(category, topic, symbol, date)``."""

MAX_JOBS = 4
"""Row groups that may wait for the writer thread before :meth:`DatasetWriter.write` waits too."""


def _f(x: Any) -> float | None:
    try:
        return float(x) if x is not None and x != "" else None
    except (TypeError, ValueError):
        return None


def _i(x: Any) -> int | None:
    try:
        return int(x) if x is not None and x != "" else None
    except (TypeError, ValueError):
        return None


@dataclass
class _Open:
    """One partition's buffer (the caller's side) and its open temporary file (the writer thread's)."""

    kind: Kind
    directory: Path
    columns: dict[str, list[Any]]
    rows: int = 0
    file_since: float | None = None
    """When the caller handed the open file its first row group (None: no file open)."""
    # the writer thread's side: only it touches these
    writer: pq.ParquetWriter | None = None
    temp: Path | None = None
    final: Path | None = None
    opened: float = 0.0
    file_rows: int = 0
    files: list[Path] = field(default_factory=list)


class DatasetWriter:
    """Writes received Bybit frames to a Parquet dataset under ``root`` (see :mod:`rxbybit.recordings`).

    Use it as a context manager, or call :meth:`close`: only closed files are part of the dataset.
    """

    def __init__(self, root: str | os.PathLike[str], *, max_file_bytes: int = 64 << 20,
                 max_file_seconds: float = 300.0, row_group_rows: int = 20_000, max_buffered_rows: int = 200_000,
                 compression: str = "zstd", clock: Callable[[], float] = time.time) -> None:
        if max_file_bytes <= 0 or max_file_seconds <= 0 or row_group_rows <= 0 or max_buffered_rows <= 0:
            raise ValueError("max_file_bytes, max_file_seconds, row_group_rows and max_buffered_rows must be > 0")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_file_bytes = max_file_bytes
        self.max_file_seconds = max_file_seconds
        self.row_group_rows = row_group_rows
        self.max_buffered_rows = max_buffered_rows
        self.compression = compression
        self._clock = clock
        self._open: dict[Partition, _Open] = {}
        self._buffered = 0
        self._last_check = clock()
        self._names: dict[tuple[str, str], tuple[str, str, str] | None] = {}  # (endpoint, topic) -> partition names
        self._days: dict[int, str] = {}
        self.frames = 0
        """Frames stored so far."""
        self.skipped = 0
        """Frames not stored: control frames (acks, pongs) and frames that are not JSON objects."""
        self.files: list[Path] = []
        """Complete files written so far (renamed into place; see :meth:`wait`)."""
        self.closed = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rxbybit-dataset")
        self._jobs: collections.deque[Future[None]] = collections.deque()
        self._failure: BaseException | None = None
        """The first failed write (a full disk): once set, every later write and close raises it."""

    def __repr__(self) -> str:
        return (f"<DatasetWriter {self.root} frames={self.frames} open_partitions={len(self._open)} "
                f"buffered_rows={self._buffered} files={len(self.files)}>")

    @property
    def buffered_rows(self) -> int:
        """Rows held in memory, not yet in a row group."""
        return self._buffered

    # ------------------------------------------------------------------ input

    def write(self, path: str, frame: str | bytes, t: float | None = None) -> bool:
        """Store one raw frame received on socket ``path`` at ``t`` (epoch s; now if None).

        Returns False (and counts it in :attr:`skipped`) for frames without a topic.
        """
        if self._failure is not None:
            raise self._failure
        if self.closed:
            raise RuntimeError("this DatasetWriter is closed")
        endpoint = PATH_ENDPOINTS.get(path)
        if endpoint is None:
            raise ValueError(f"unknown socket path {path!r}; expected one of {', '.join(PATH_ENDPOINTS)}")
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        try:
            msg = loads(text)
        except JSONDecodeError:
            msg = None
        topic = msg.get("topic") if isinstance(msg, dict) else None
        if not isinstance(topic, str) or not topic:
            self.skipped += 1
            return False
        assert isinstance(msg, dict)
        now = self._clock() if t is None else t
        ts = _i(msg.get("ts"))
        day_n = int(ts // 86_400_000) if ts is not None else int(now // 86_400)
        day = self._days.get(day_n)
        if day is None:
            day = self._days[day_n] = dt.datetime.fromtimestamp(day_n * 86_400, dt.UTC).strftime("%Y-%m-%d")
        names = self._names.get((endpoint, topic), ())
        if names == ():
            names = self._names[(endpoint, topic)] = self._partition_names(endpoint, topic)
        if names is None:
            self.skipped += 1
            return False
        key = (*names, day)
        part = self._open.get(key)
        if part is None:
            part = self._partition(key)
        added = _ROWS[part.kind](part.columns, msg, text, int(now * 1_000_000), ts)
        part.rows += added
        self._buffered += added
        self.frames += 1
        if part.rows >= self.row_group_rows:
            self._flush(key, part)
        if self._buffered > self.max_buffered_rows:
            biggest = max(self._open.items(), key=lambda kv: kv[1].rows)
            self._flush(*biggest)
        if now - self._last_check >= 1.0:
            self._last_check = now
            self.rotate_due(now)
        return True

    @staticmethod
    def _partition_names(endpoint: Endpoint, topic: str) -> tuple[str, str, str] | None:
        head, symbol = split_topic(topic, endpoint)
        try:
            return safe_value(endpoint), safe_value(head), safe_value(symbol)
        except ValueError:
            log.warning("not recording topic %r: it cannot name a partition", topic)
            return None

    def attach(self, bybit: Bybit, endpoint: Endpoint) -> abc.DisposableBase:
        """Record every frame ``bybit`` receives on ``endpoint`` (dispose the result to stop)."""
        from ..protocol.endpoints import endpoint_path

        path = endpoint_path(endpoint)

        def on_frame(frame: str | bytes) -> None:
            self.write(path, frame)

        return bybit.frames(endpoint).subscribe(on_frame)

    # ------------------------------------------------------------------ files

    def _partition(self, key: Partition) -> _Open:
        category, head, symbol, day = key
        directory = self.root / f"category={category}" / f"topic={head}" / f"symbol={symbol}" / f"date={day}"
        kind = kind_of(head)
        directory.mkdir(parents=True, exist_ok=True)
        part = self._open[key] = _Open(kind, directory, {n: [] for n in SCHEMAS[kind].names})
        # a new day for this stream closes yesterday's file
        for other_key, other in list(self._open.items()):
            if other_key[:3] == key[:3] and other_key[3] != day:
                self._close_partition(other_key, other)
        return part

    # Encoding and writing Parquet takes 0.1-0.4 s for a 50,000-row group: it runs on one writer
    # thread (pyarrow releases the GIL while it encodes and compresses), in submission order, so the
    # caller (often the event loop) only swaps buffers. At most MAX_JOBS groups wait for the thread;
    # beyond that the caller waits (backpressure, bounded memory).

    def _submit(self, fn: Callable[..., None], *args: Any) -> None:
        while self._jobs and self._jobs[0].done():
            self._result(self._jobs.popleft())  # a failed write (disk full) surfaces here
        self._jobs.append(self._thread.submit(fn, *args))
        while len(self._jobs) > MAX_JOBS:
            self._result(self._jobs.popleft())

    def _result(self, job: Future[None]) -> None:
        """Wait for ``job``; a failure is kept, so the writer never looks healthy after losing rows."""
        try:
            job.result()
        except BaseException as exc:
            if self._failure is None:
                self._failure = exc
            raise

    def _flush(self, key: Partition, part: _Open) -> None:
        if not part.rows:
            return
        columns, part.columns = part.columns, {n: [] for n in part.columns}
        self._buffered -= part.rows
        part.rows = 0
        now = self._clock()
        if part.file_since is None:
            part.file_since = now
        self._submit(self._write_group, part, columns, now)

    def _write_group(self, part: _Open, columns: dict[str, list[Any]], now: float) -> None:
        """(writer thread) Append one row group to the partition's open file, opening one if needed."""
        schema = SCHEMAS[part.kind]
        table = pa.Table.from_pydict(columns, schema=schema)
        if part.writer is None:
            name = f"part-{int(now * 1000)}-{uuid.uuid4().hex[:8]}.parquet"
            part.final = part.directory / name
            part.temp = part.directory / f".{name}{TEMP_SUFFIX}"
            part.writer = pq.ParquetWriter(part.temp, schema, compression=self.compression)
            part.opened = now
            part.file_rows = 0
        part.writer.write_table(table)
        part.file_rows += table.num_rows
        assert part.temp is not None
        if part.temp.stat().st_size >= self.max_file_bytes:
            self._seal(part)

    def _seal(self, part: _Open) -> None:
        """(writer thread) Close the open file and rename it into place."""
        writer, part.writer = part.writer, None
        if writer is None:
            return
        writer.close()
        assert part.temp is not None and part.final is not None
        os.replace(part.temp, part.final)
        self.files.append(part.final)
        part.files.append(part.final)
        part.temp = part.final = None

    def _close_file(self, key: Partition, part: _Open) -> None:
        self._flush(key, part)
        part.file_since = None
        self._submit(self._seal, part)

    def _close_partition(self, key: Partition, part: _Open) -> None:
        self._close_file(key, part)
        self._open.pop(key, None)

    def rotate_due(self, now: float | None = None) -> None:
        """Close files open longer than ``max_file_seconds`` (called by :meth:`write` about every second)."""
        now = self._clock() if now is None else now
        for key, part in list(self._open.items()):
            started = part.file_since if part.file_since is not None else \
                self._first_time(part) if part.rows else None
            if started is not None and now - started >= self.max_file_seconds:
                self._close_file(key, part)

    @staticmethod
    def _first_time(part: _Open) -> float:
        first = part.columns["recv_time"][0] if part.columns["recv_time"] else 0
        return float(first) / 1_000_000

    def wait(self) -> None:
        """Wait until every row group handed over so far is written (and due files renamed)."""
        while self._jobs:
            self._result(self._jobs.popleft())

    def flush(self) -> None:
        """Close every open file into the dataset (buffers written first) and wait for it; recording may go on."""
        for key, part in list(self._open.items()):
            self._close_partition(key, part)
        self.wait()

    def close(self) -> None:
        """Write everything buffered and close every file (idempotent; after a failed write it raises that
        failure every time, whichever call saw it first)."""
        if self.closed:
            if self._failure is not None:
                raise self._failure
            return
        try:
            self.flush()
        finally:
            self.closed = True
            self._thread.shutdown(wait=True)
            for part in self._open.values():
                if part.writer is not None:
                    with contextlib.suppress(Exception):
                        part.writer.close()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


# ---------------------------------------------------------------------- rows per kind

def _items(cols: dict[str, list[Any]], msg: dict[str, Any], text: str, recv_us: int,
           ts: int | None) -> list[dict[str, Any]]:
    """The objects of ``data`` (a trades or kline frame), each given its row's receive time, ``ts`` and
    the frame text (kept on the first row only); none, and one ``other`` row written, when there are none."""
    data = msg.get("data")
    items = [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
    if not items:
        _other(cols, msg, text, recv_us, ts)
        return items
    cols["recv_time"].extend([recv_us] * len(items))
    cols["ts"].extend([ts] * len(items))
    cols["frame"].extend([text] + [None] * (len(items) - 1))
    return items


def _trades(cols: dict[str, list[Any]], msg: dict[str, Any], text: str, recv_us: int, ts: int | None) -> int:
    items = _items(cols, msg, text, recv_us, ts)
    for d in items:
        cols["trade_time"].append(_i(d.get("T")))
        cols["trade_id"].append(None if d.get("i") is None else str(d.get("i")))
        cols["side"].append(d.get("S") if isinstance(d.get("S"), str) else None)
        cols["price"].append(_f(d.get("p")))
        cols["size"].append(_f(d.get("v")))
        cols["tick_direction"].append(d.get("L") if isinstance(d.get("L"), str) else None)
        cols["block_trade"].append(d.get("BT") if isinstance(d.get("BT"), bool) else None)
        cols["seq"].append(_i(d.get("seq")))
    return len(items) or 1


def _levels(side: Any) -> tuple[list[float | None], list[float | None]]:
    prices: list[float | None] = []
    sizes: list[float | None] = []
    if isinstance(side, list):
        for level in side:
            if isinstance(level, list | tuple) and len(level) >= 2:
                prices.append(_f(level[0]))
                sizes.append(_f(level[1]))
    return prices, sizes


def _book(cols: dict[str, list[Any]], msg: dict[str, Any], text: str, recv_us: int, ts: int | None) -> int:
    data = msg.get("data")
    d = data if isinstance(data, dict) else {}
    bp, bs = _levels(d.get("b"))
    ap, as_ = _levels(d.get("a"))
    cols["recv_time"].append(recv_us)
    cols["ts"].append(ts)
    cols["frame"].append(text)
    cols["type"].append(msg.get("type") if isinstance(msg.get("type"), str) else None)
    cols["u"].append(_i(d.get("u")))
    cols["seq"].append(_i(d.get("seq")))
    cols["cts"].append(_i(msg.get("cts")))
    cols["bid_prices"].append(bp)
    cols["bid_sizes"].append(bs)
    cols["ask_prices"].append(ap)
    cols["ask_sizes"].append(as_)
    return 1


def _kline(cols: dict[str, list[Any]], msg: dict[str, Any], text: str, recv_us: int, ts: int | None) -> int:
    items = _items(cols, msg, text, recv_us, ts)
    for d in items:
        cols["start"].append(_i(d.get("start")))
        cols["end"].append(_i(d.get("end")))
        cols["interval"].append(None if d.get("interval") is None else str(d.get("interval")))
        for name in ("open", "high", "low", "close", "volume", "turnover"):
            cols[name].append(_f(d.get(name)))
        cols["confirm"].append(d.get("confirm") if isinstance(d.get("confirm"), bool) else None)
    return len(items) or 1


def _other(cols: dict[str, list[Any]], msg: dict[str, Any], text: str, recv_us: int, ts: int | None) -> int:
    """One row holding the frame; the kind's other columns null (also trades/klines without items)."""
    cols["recv_time"].append(recv_us)
    cols["ts"].append(ts)
    cols["frame"].append(text)
    for name, values in cols.items():
        if name not in ("recv_time", "ts", "frame"):
            values.append(msg.get("type") if name == "type" and isinstance(msg.get("type"), str) else None)
    return 1


_ROWS: dict[Kind, Callable[[dict[str, list[Any]], dict[str, Any], str, int, int | None], int]] = {
    "trades": _trades, "book": _book, "kline": _kline, "other": _other,
}
