"""Reading a recording dataset: pandas frames through DuckDB (embedded), and the frames for replay.

``rxbybit.recordings(path)`` returns a :class:`Dataset`. Its queries read only the partitions they
need (category, topic and symbol pick the directories; dates and times are filters DuckDB pushes
down), and return pandas frames with UTC timestamps. Any other engine reads the same files: see
``docs/dataset.md``.
"""

from __future__ import annotations

import glob
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import pyarrow as pa

from ..protocol import topics as T
from .layout import NO_SYMBOL, SCHEMAS, Kind, join_topic, safe_value
from .times import TimeLike, check_window, to_timestamp

if TYPE_CHECKING:
    from ..sim.replay import Recorded


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
            params.append(lo.round("us").to_pydatetime())
            where.append("date >= ?")  # prunes whole days before reading them (a day's slack: dates are exchange time)
            params.append((lo - pd.Timedelta(days=1)).strftime("%Y-%m-%d"))
        if hi is not None:
            where.append("recv_time < ?")
            params.append(hi.round("us").to_pydatetime())
            where.append("date <= ?")
            params.append((hi + pd.Timedelta(days=1)).strftime("%Y-%m-%d"))
        query = (f"SELECT {', '.join(columns)} FROM {_READ} "
                 f"WHERE {' AND '.join(where)} ORDER BY recv_time")
        return self._df(query, [files, *params])

    def records(self, start: TimeLike = None, end: TimeLike = None, *, category: str = "*", topic: str = "*",
                symbol: str = "*") -> list[Recorded]:
        """The recorded frames as replay records (what :class:`rxbybit.sim.replay.ReplayServer` serves).

        Cut at ``start`` exactly: a book starting here begins with deltas. :meth:`replay_records`
        gives a window whose books are exact from its start."""
        return self._recorded(self.frames(start, end, category=category, topic=topic, symbol=symbol))

    def replay_records(self, start: TimeLike = None, end: TimeLike = None) -> list[Recorded]:
        """Every frame received in ``start <= t < end``, ready to replay with books exact from the start.

        A topic sent as snapshot + deltas whose first frame in the window is a delta gets a lead-in:
        its last snapshot before ``start`` with its deltas up to ``start`` folded in, as one snapshot
        (see :mod:`rxbybit.recordings.window`). DuckDB filters by receive time and prunes dates.

        Raises:
            ValueError: a bound is not a time, ``end <= start``, or the window holds no frame (the
                message names the window and the recording's span).
        """
        from .window import assemble, empty_window, needs_lead_in

        lo, hi = check_window(start, end)
        inside = self.records(lo, hi)
        if not inside and (lo is not None or hi is not None):
            first, last, n = self.span()
            raise empty_window(lo, hi, first, last, n, f"the dataset {str(self.path)!r}")
        keys = needs_lead_in(inside) if lo is not None else []
        return assemble(inside, {k: self.lead_in(lo, *k) for k in keys} if lo is not None else {})

    def span(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None, int]:
        """``(first, last, frames)``: receive times of the first and last recorded frame, and how many."""
        if not self.files():
            return None, None, 0
        df = self.sql("SELECT min(recv_time) AS first, max(recv_time) AS last, count(frame) AS n FROM {dataset} "
                      "WHERE frame IS NOT NULL")
        n = int(df["n"].iloc[0])
        if not n:
            return None, None, 0
        return pd.Timestamp(df["first"].iloc[0]), pd.Timestamp(df["last"].iloc[0]), n

    def lead_in(self, before: TimeLike, path: str, topic: str) -> list[Recorded]:
        """The frames of one recorded stream (socket ``path``, full ``topic`` name) from its last
        snapshot received before ``before`` up to ``before``; empty when it has no such snapshot."""
        from ..protocol.endpoints import PATH_ENDPOINTS
        from .layout import kind_of, split_topic

        limit = to_timestamp(before, "before")
        endpoint = PATH_ENDPOINTS.get(path)
        if limit is None or endpoint is None:
            return []
        head, symbol = split_topic(topic, endpoint)
        if kind_of(head) in ("trades", "kline"):
            return []  # every frame of these is whole: nothing to lead in
        files = self._files(endpoint, head, symbol)
        if not files:
            return []
        query = (f"WITH f AS (SELECT recv_time, category, topic, symbol, frame, type FROM {_READ} "
                 "WHERE frame IS NOT NULL AND recv_time < ? "
                 "AND date <= ?) "
                 "SELECT recv_time, category, topic, symbol, frame FROM f "
                 "WHERE recv_time >= (SELECT max(recv_time) FROM f WHERE type = 'snapshot') ORDER BY recv_time")
        day = (limit + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
        return self._recorded(self._df(query, [files, limit.round("us").to_pydatetime(), day]))

    @staticmethod
    def _recorded(df: pd.DataFrame) -> list[Recorded]:
        from ..sim.replay import Recorded
        from .layout import socket_path

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
            params.append(lo.round("us").to_pydatetime())
            where.append("date >= ?")  # prunes whole days before reading them
            params.append((lo - pd.Timedelta(days=1)).strftime("%Y-%m-%d"))
        if hi is not None:
            where.append(f"{time_col} < ?")
            params.append(hi.round("us").to_pydatetime())
            where.append("date <= ?")
            params.append((hi + pd.Timedelta(days=1)).strftime("%Y-%m-%d"))
        if extra:
            where.append(extra)
        query = (f"SELECT {cols} FROM {_READ} "
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


_READ = ("read_parquet(?, hive_partitioning = true, hive_types = {'category': VARCHAR, 'topic': VARCHAR, "
         "'symbol': VARCHAR, 'date': VARCHAR}, union_by_name = true)")
"""The files of a query (a list parameter), partition keys read as text."""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def dataset(path: str | os.PathLike[str]) -> Dataset:
    """Open the recording dataset at ``path`` (written by ``rxbybit record --format parquet``)."""
    return Dataset(path)
