"""Reading a recording dataset: pandas frames through DuckDB (embedded), and the frames for replay.

``rxbybit.recordings(path)`` returns a :class:`Dataset`. Its queries read only the partitions they
need (category, topic and symbol pick the directories; dates and times are filters DuckDB pushes
down), and return pandas frames with UTC timestamps. Any other engine reads the same files: see
``docs/dataset.md``.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import duckdb
import pandas as pd
import pyarrow as pa

from ..protocol import topics as T
from .layout import NO_SYMBOL, SCHEMAS, Kind, join_topic, safe_value

if TYPE_CHECKING:
    from ..sim.replay import Recorded

TimeLike: TypeAlias = "str | int | float | dt.datetime | pd.Timestamp | None"
"""A time bound: ISO text, a pandas/datetime value (naive means UTC), or epoch milliseconds."""


def to_timestamp(value: TimeLike, what: str = "time") -> pd.Timestamp | None:
    """A UTC timestamp from a time bound (None stays None); raises ValueError naming ``what``."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value, unit="ms") if isinstance(value, int | float) else pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what} {value!r} is not a time (ISO text, datetime or epoch ms): {exc}") from exc
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


class Dataset:
    """A recording dataset on disk, queried with DuckDB. Cheap to create; thread-safe queries."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(f"no dataset at {str(self.path)!r} (expected a directory of category=... folders)")
        self._con = duckdb.connect()
        self._con.execute("SET TimeZone = 'UTC'")
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Dataset {self.path} files={len(self.files())}>"

    def files(self, category: str = "*", topic: str = "*", symbol: str = "*") -> list[str]:
        """Complete Parquet files of the matching partitions (temporary files never match)."""
        pattern = self.path / f"category={category}" / f"topic={topic}" / f"symbol={symbol}" / "date=*" / "*.parquet"
        return sorted(glob.glob(str(pattern)))

    def sql(self, query: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Run any DuckDB query; ``{dataset}`` in ``query`` stands for every file of the dataset."""
        source = f"read_parquet({_quote(str(self.path / '**' / '*.parquet'))}, hive_partitioning = true, " \
                 "union_by_name = true)"
        return self._df(query.replace("{dataset}", source), params)

    # ------------------------------------------------------------------ typed queries

    def trades(self, symbol: str, start: TimeLike = None, end: TimeLike = None, *,
               category: str = "*") -> pd.DataFrame:
        """Trades of ``symbol`` with ``start <= trade_time < end``, in trade time order."""
        cols = "trade_time, category, symbol, side, price, size, trade_id, tick_direction, block_trade, seq, ts, " \
               "recv_time"
        return self._query("trades", cols, "trade_time", category, "publicTrade", symbol, start, end,
                           "trade_time, seq, trade_id")

    def klines(self, symbol: str, interval: str | int = "1", start: TimeLike = None, end: TimeLike = None, *,
               category: str = "*", confirmed_only: bool = False) -> pd.DataFrame:
        """Kline updates of ``symbol`` (``start <= start-of-candle < end``); ``confirmed_only`` keeps closed candles."""
        head = f"kline.{T.validate_interval(interval)}"
        cols = "start, \"end\", category, symbol, interval, open, high, low, close, volume, turnover, confirm, ts, " \
               "recv_time"
        extra = "confirm" if confirmed_only else None
        return self._query("kline", cols, "start", category, head, symbol, start, end, "start, ts, recv_time", extra)

    def book_updates(self, symbol: str, start: TimeLike = None, end: TimeLike = None, *, depth: int | None = None,
                     category: str = "*") -> pd.DataFrame:
        """Order book snapshots and deltas of ``symbol`` as recorded, in exchange order (one row a frame)."""
        head = "orderbook.*" if depth is None else f"orderbook.{int(depth)}"
        cols = "ts, category, topic, symbol, type, u, seq, cts, bid_prices, bid_sizes, ask_prices, ask_sizes, recv_time"
        return self._query("book", cols, "ts", category, head, symbol, start, end, "topic, recv_time, u")

    def frames(self, start: TimeLike = None, end: TimeLike = None, *, category: str = "*", topic: str = "*",
               symbol: str = "*") -> pd.DataFrame:
        """Every recorded raw frame with its receive time and partition keys, in receive order."""
        files = self._files(category, topic, symbol)
        columns = ["recv_time", "category", "topic", "symbol", "frame"]
        if not files:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        lo, hi = to_timestamp(start, "start"), to_timestamp(end, "end")
        where, params = ["frame IS NOT NULL"], []
        if lo is not None:
            where.append("recv_time >= ?")
            params.append(lo.to_pydatetime())
        if hi is not None:
            where.append("recv_time < ?")
            params.append(hi.to_pydatetime())
        query = (f"SELECT {', '.join(columns)} FROM read_parquet(?, hive_partitioning = true, union_by_name = true) "
                 f"WHERE {' AND '.join(where)} ORDER BY recv_time")
        return self._df(query, [files, *params])

    def records(self, start: TimeLike = None, end: TimeLike = None, *, category: str = "*", topic: str = "*",
                symbol: str = "*") -> list[Recorded]:
        """The recorded frames as replay records (what :class:`rxbybit.sim.replay.ReplayServer` serves)."""
        from ..sim.replay import Recorded
        from .layout import socket_path

        df = self.frames(start, end, category=category, topic=topic, symbol=symbol)
        out = []
        for recv, cat, head, sym, frame in zip(df["recv_time"], df["category"], df["topic"], df["symbol"],
                                               df["frame"], strict=True):
            out.append(Recorded(pd.Timestamp(recv).timestamp(), socket_path(str(cat)), str(frame),
                                join_topic(str(head), str(sym))))
        return out

    # ------------------------------------------------------------------ plumbing

    def _files(self, category: str, topic: str, symbol: str) -> list[str]:
        for value in (category, topic, symbol):
            if value != "*" and value != NO_SYMBOL:
                safe_value(value.replace("*", "x"))
        return self.files(category, topic, symbol)

    def _query(self, kind: Kind, cols: str, time_col: str, category: str, topic: str, symbol: str,
               start: TimeLike, end: TimeLike, order: str, extra: str | None = None) -> pd.DataFrame:
        T.validate_symbol(symbol)
        files = self._files(category, topic, symbol)
        names = [c.strip().strip('"') for c in cols.split(",")]
        if not files:
            return self._empty(kind, names)
        lo, hi = to_timestamp(start, "start"), to_timestamp(end, "end")
        where, params = [f"{time_col} IS NOT NULL"], []
        if lo is not None:
            where.append(f"{time_col} >= ?")
            params.append(lo.to_pydatetime())
            where.append("date >= ?")  # prunes whole days before reading them
            params.append((lo - pd.Timedelta(days=1)).strftime("%Y-%m-%d"))
        if hi is not None:
            where.append(f"{time_col} < ?")
            params.append(hi.to_pydatetime())
            where.append("date <= ?")
            params.append((hi + pd.Timedelta(days=1)).strftime("%Y-%m-%d"))
        if extra:
            where.append(extra)
        query = (f"SELECT {cols} FROM read_parquet(?, hive_partitioning = true, hive_types = "
                 "{'category': VARCHAR, 'topic': VARCHAR, 'symbol': VARCHAR, 'date': VARCHAR}, union_by_name = true) "
                 f"WHERE {' AND '.join(where)} ORDER BY {order}")
        return self._df(query, [files, *params])

    def _empty(self, kind: Kind, names: list[str]) -> pd.DataFrame:
        schema = SCHEMAS[kind]
        fields = [schema.field(n) if n in schema.names else pa.field(n, pa.string()) for n in names]
        with self._lock:  # through DuckDB, so empty results have the dtypes of full ones
            out = self._con.from_arrow(pa.schema(fields).empty_table()).df()
        for f in fields:
            if f.type == pa.string():
                out[f.name] = out[f.name].astype("str")
        return out

    def _df(self, query: str, params: list[Any] | None) -> pd.DataFrame:
        with self._lock:
            return self._con.execute(query, params or []).df()

    def close(self) -> None:
        """Close the DuckDB connection."""
        self._con.close()


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def dataset(path: str | os.PathLike[str]) -> Dataset:
    """Open the recording dataset at ``path`` (written by ``rxbybit record --format parquet``)."""
    return Dataset(path)
