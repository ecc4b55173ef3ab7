"""LiveFrame: a bounded, columnar, self-displaying table fed by a stream.

Rows are buffered as tuples (cheap per message), moved in batches into a fixed-size numpy ring
(memory stays flat however long it runs), and turned into a pandas DataFrame with a UTC
``DatetimeIndex`` only when asked; that DataFrame is cached until the next change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Unpack

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ..display import column_formatters, titled_html
from ..protocol import Candle
from ._base import FrameOptions, LiveBase
from ._schema import DTYPES, Schema, arrays_only, frame_column, infer, kind_of_array
from .ring import ColumnRing
from .schemas import topic_schema

CHUNK = 512
"""Rows buffered as tuples before they are moved into the numpy ring (at most ``max_rows``). Small enough
that a hundred idle tapes hold little as Python objects; 512 ingests as fast as 4096 did (measured)."""



def window_ms(window: str | pd.Timedelta | float | None) -> int | None:
    """A time window as milliseconds (``"5min"``, a Timedelta, or seconds as a number)."""
    if window is None:
        return None
    seconds = float(window) if isinstance(window, int | float) else pd.Timedelta(window).total_seconds()
    ms = int(seconds * 1000)
    if ms <= 0:
        raise ValueError(f"a time window must be positive, got {window!r}")
    return ms


class LiveFrame(LiveBase):
    """The newest rows of a stream, at most ``max_rows`` and optionally only the last ``window``.

    Example::

        tape = trades.pipe(ops.to_frame(max_rows=5_000))   # or LiveFrame(5_000).subscribe_to(trades)
        tape.df.tail()                                      # a pandas DataFrame, UTC DatetimeIndex
        tape.within("30s")                                  # rows of the last 30 s of exchange time

    ``key`` names a column (or the time field) whose repeats *replace* the newest row instead of
    appending: candle streams use it so an open candle updates in place (the default for
    :class:`~rxbybit.protocol.Candle` items). Columns are typed by the item's declared fields or by
    ``topic``'s schema (:mod:`rxbybit.frames.schemas`): private pushes' numeric strings become floats,
    times UTC datetimes, ids exact ``str``. The frame treats ``.df`` as a read-only cache: copy it
    before changing it.
    """

    def __init__(
        self,
        max_rows: int = 10_000,
        *,
        window: str | pd.Timedelta | float | None = None,
        columns: Sequence[str] | None = None,
        time_field: str | None = None,
        key: str | None = None,
        schema: Schema | None = None,
        topic: str | None = None,
        display_rows: int = 10,
        **options: Unpack[FrameOptions],
    ) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        super().__init__(**options)
        self.max_rows = max_rows
        self.window = window
        self._window_ms = window_ms(window)
        self._columns = columns
        self._time_field = time_field
        self._key = key
        if topic is not None:
            topic_schema(topic)  # a KeyError naming the known topics, now rather than at the first row
        self._topic = topic
        self._key_index: int | None = None
        self._last_key: Any = _NOKEY
        self.display_rows = display_rows
        self._schema: Schema | None = None
        self._ring: ColumnRing | None = None
        self._pending: list[tuple[Any, ...]] = []
        self._version = 0
        self._df: pd.DataFrame | None = None
        self._df_version = -1
        self.rows_received = 0
        """Every row ever ingested (including rows since pushed out of the window)."""
        if schema is not None:
            self._set_schema(schema)

    # ----------------------------------------------------------------------------- schema

    @property
    def schema(self) -> Schema | None:
        """The row schema (None until the first item, unless given)."""
        return self._schema

    @property
    def columns(self) -> tuple[str, ...]:
        """Value column names (the time is the index)."""
        return self._schema.names if self._schema else ()

    def _set_schema(self, schema: Schema) -> None:
        self._schema = schema
        self._ring = ColumnRing(schema.dtypes(), self.max_rows)
        key = self._key
        if key is None and schema.item_type is Candle:
            key = schema.time_field
        if key is not None:
            if key == schema.time_field:
                self._key_index = 0
            elif key in schema.names:
                self._key_index = 1 + schema.names.index(key)
            else:
                raise ValueError(f"key {key!r} is not a column (columns: {', '.join(schema.names)})")

    # ----------------------------------------------------------------------------- ingest

    def append(self, item: Any) -> None:
        """Add one item as a row. Raises ``TypeError``/``ValueError`` naming what is wrong with it."""
        self._append(item)
        self._changed()

    _ingest = append

    def extend(self, items: Iterable[Any]) -> None:
        """Add many items; listeners hear of the change once, even if an item fails."""
        try:
            for item in items:
                self._append(item)
        finally:
            self._changed()

    def _append(self, item: Any) -> None:
        schema = self._schema
        if schema is None:
            self._set_schema(infer(item, columns=self._columns, time_field=self._time_field, schema=self._topic))
            schema = self._schema
            assert schema is not None
        elif schema.item_type is not None and type(item) is not schema.item_type:
            raise TypeError(
                f"this frame holds {schema.item_type.__name__} rows, got a {type(item).__name__}: {item!r:.120}"
            )
        try:
            row = schema.extract(item)
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            raise ValueError(f"cannot read a row ({schema.time_field!r} + {len(schema.names)} columns) "
                             f"from {item!r:.120}: {exc!r}") from exc
        self._add_row(row)

    def _add_row(self, row: tuple[Any, ...]) -> None:
        self.rows_received += 1
        self._version += 1
        ki = self._key_index
        if ki is not None:
            k = row[ki]
            same = k == self._last_key
            self._last_key = k
            if same:
                if self._pending:
                    self._pending[-1] = row
                else:
                    assert self._ring is not None
                    self._ring.replace_last([a[0] for a in self._schema_arrays([row])])
                return
        self._pending.append(row)
        if len(self._pending) >= min(CHUNK, self.max_rows):  # buffered rows never outnumber the ring's
            self.flush()

    def append_arrays(self, ts: ArrayLike, columns: Mapping[str, ArrayLike]) -> None:
        """Batched ingest: epoch-ms times and one array per column (the fast path, no per-row Python).

        The first batch defines the schema when none exists (float, int and bool dtypes are kept,
        anything else becomes object). Later batches must carry the same columns.
        """
        ts_arr = np.asarray(ts, dtype=np.int64)
        if self._schema is None:
            kinds = tuple(kind_of_array(np.asarray(v)) for v in columns.values())
            names = tuple(columns)
            self._set_schema(Schema(self._time_field or "ts", names, kinds, arrays_only))
        schema = self._schema
        assert schema is not None and self._ring is not None
        if set(columns) != set(schema.names):
            raise ValueError(f"append_arrays needs exactly the columns {list(schema.names)}, got {list(columns)}")
        arrays: list[NDArray[Any]] = [ts_arr]
        for name, kind in zip(schema.names, schema.kinds, strict=True):
            a = np.asarray(columns[name])
            if a.shape != ts_arr.shape:
                raise ValueError(f"column {name!r} has {a.shape[0] if a.ndim else 0} rows, ts has {len(ts_arr)}")
            arrays.append(a if a.dtype == DTYPES[kind] else a.astype(DTYPES[kind]))
        self.flush()
        self._ring.extend(arrays)
        self.rows_received += len(ts_arr)
        self._version += 1
        self._last_key = _NOKEY
        self._trim_window()
        self._changed()

    def flush(self) -> None:
        """Move buffered rows into the ring (done automatically; cheap when nothing is buffered)."""
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        assert self._ring is not None
        self._ring.extend(self._schema_arrays(rows))
        self._trim_window()

    def _schema_arrays(self, rows: list[tuple[Any, ...]]) -> list[NDArray[Any]]:
        assert self._schema is not None
        return self._schema.arrays(rows, self._record)

    def _trim_window(self) -> None:
        w = self._window_ms
        ring = self._ring
        if w is None or ring is None or not len(ring):
            return
        last = int(ring.last(0))
        ts = ring.column(0)
        cut = int(np.searchsorted(ts, last - w, side="right"))
        if cut:
            ring.drop_front(cut)

    # ----------------------------------------------------------------------------- reading

    def __len__(self) -> int:
        self.flush()
        return len(self._ring) if self._ring is not None else 0

    @property
    def version(self) -> int:
        """Increases on every change (what caches key on)."""
        return self._version

    @property
    def nbytes(self) -> int:
        """Bytes held by the ring's column arrays (fixed once allocated)."""
        return self._ring.nbytes if self._ring is not None else 0

    @property
    def last_ts(self) -> int | None:
        """Exchange time (epoch ms) of the newest row."""
        if self._pending:
            return int(self._pending[-1][0])
        if self._ring is None or not len(self._ring):
            return None
        return int(self._ring.last(0))

    @property
    def df(self) -> pd.DataFrame:
        """All rows held, oldest first, as a DataFrame indexed by UTC exchange time (cached)."""
        if self._df is not None and self._df_version == self._version:
            return self._df
        self._df = self._build(None)
        self._df_version = self._version
        return self._df

    def tail(self, n: int = 5) -> pd.DataFrame:
        """The newest ``n`` rows (without building the whole frame)."""
        return self._build(n)

    def rows(self, n: int) -> pd.DataFrame:
        """Row window: the newest ``n`` rows."""
        return self._build(n)

    def within(self, window: str | pd.Timedelta | float) -> pd.DataFrame:
        """Time window: rows newer than the newest row's time minus ``window``."""
        ms = window_ms(window)
        assert ms is not None
        last = self.last_ts
        df = self.df
        if last is None:
            return df
        cutoff = pd.Timestamp(last - ms, unit="ms", tz="UTC")
        return df[df.index > cutoff]

    def _build(self, n: int | None) -> pd.DataFrame:
        self.flush()
        schema = self._schema
        ring = self._ring
        if schema is None or ring is None:
            return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="ts"))
        ts = ring.column(0, n)
        data = {name: frame_column(kind, ring.column(i + 1, n))
                for i, (name, kind) in enumerate(zip(schema.names, schema.kinds, strict=True))}
        index = pd.DatetimeIndex(pd.to_datetime(ts, unit="ms", utc=True), name=schema.time_field)
        return pd.DataFrame(data, index=index, copy=False)

    # ----------------------------------------------------------------------------- display

    def _header(self) -> str:
        last = self.last_ts
        when = pd.Timestamp(last, unit="ms", tz="UTC").isoformat() if last is not None else "-"
        window = f", window={self.window}" if self.window is not None else ""
        state = " (stream failed)" if self.error else (" (completed)" if self.completed else "")
        name = f"{self.name} " if self.name else ""
        return f"{name}{len(self)} rows (max {self.max_rows}{window}), last {when}{state}"

    def _shown(self) -> pd.DataFrame:
        """The rows a display shows: the newest ``display_rows``, newest first (like every live view)."""
        return self.tail(self.display_rows).iloc[::-1]

    def __repr__(self) -> str:
        shown = self._shown()
        body = shown.to_string(formatters=_fmts(shown)) if len(self) else "(no rows yet)"
        return f"{self._tagged('LiveFrame')}: {self._header()}, newest first\n{body}"

    def _repr_html_(self) -> str:
        shown = self._shown()
        table = shown.to_html(border=0, formatters=_fmts(shown)) if len(self) else "<i>no rows yet</i>"
        return titled_html("LiveFrame", self.label, f"LiveFrame {self._header()}, newest first", table)


def _fmts(df: pd.DataFrame) -> dict[str, Any]:
    return column_formatters((str(c), df[c]) for c in df.columns)


class _NoKey:
    __slots__ = ()


_NOKEY = _NoKey()
