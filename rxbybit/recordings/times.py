"""Time bounds of recordings: what ``Dataset.trades(start, end)`` and ``rb.replay(start=, end=)`` accept.

Only pandas is needed here (no pyarrow, no DuckDB), so a JSONL replay can take the same bounds
without the ``dataset`` extra.
"""

from __future__ import annotations

import datetime as dt
from typing import TypeAlias

import pandas as pd

TimeLike: TypeAlias = "str | int | float | dt.datetime | pd.Timestamp | None"
"""A time bound: ISO text, a pandas/datetime value (naive means UTC), or epoch milliseconds."""


def to_timestamp(value: TimeLike, what: str = "time") -> pd.Timestamp | None:
    """A UTC timestamp from a time bound (None stays None); raises ValueError naming ``what``.

    A bool is refused (``True`` is not a time, though Python counts it as the number 1).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r} is not a time (ISO text, datetime or epoch ms)")
    try:
        ts = pd.Timestamp(value, unit="ms") if isinstance(value, int | float) else pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what} {value!r} is not a time (ISO text, datetime or epoch ms): {exc}") from exc
    if ts is pd.NaT:
        raise ValueError(f"{what} {value!r} is not a time (ISO text, datetime or epoch ms)")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def check_window(start: TimeLike, end: TimeLike) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """``(start, end)`` as UTC timestamps; raises ValueError when ``end`` is not after ``start``."""
    lo, hi = to_timestamp(start, "start"), to_timestamp(end, "end")
    if lo is not None and hi is not None and hi <= lo:
        raise ValueError(f"end {hi.isoformat()} must be after start {lo.isoformat()} (the window is start <= t < end)")
    return lo, hi


__all__ = ["TimeLike", "check_window", "to_timestamp"]
