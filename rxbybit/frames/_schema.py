"""Row schemas: how an item (a Trade, a Candle, a Ticker, a private dict...) becomes one frame row.

A schema is inferred from the first item unless given. Each row is ``(ts_ms, *values)``; the time
comes from the exchange (``ts``, ``start``, ``T``, ``updatedTime``...), never the local clock.
Dataclass and NamedTuple fields keep their declared types (``float`` -> float64, ``int`` -> int64,
or a UTC datetime for time fields such as a candle's ``end``; ``bool`` -> bool, ``str`` -> exact
string); mapping fields take the kind :mod:`rxbybit.frames.schemas` declares for their topic
(private pushes: numbers sent as strings become float64, epoch-ms strings become UTC datetimes,
ids stay exact strings), and undeclared ones the kind of the first item's value.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .schemas import TIME_NAMES, TopicSchema, detect, field_kind, topic_schema

Kind = str
"""A column kind: ``f`` (float64), ``i`` (int64), ``b`` (bool), ``t`` (time: epoch ms held as int64,
shown as ``datetime64[ms, UTC]``), ``s`` (exact string) or ``O`` (any object)."""

DTYPES: dict[Kind, np.dtype[Any]] = {
    "f": np.dtype(np.float64),
    "i": np.dtype(np.int64),
    "b": np.dtype(np.bool_),
    "t": np.dtype(np.int64),
    "s": np.dtype(object),
    "O": np.dtype(object),
}

NAT_MS = int(np.iinfo(np.int64).min)
"""The int64 that stands for a missing time (numpy's NaT)."""

TIME_FIELDS = ("ts", "start", "timestamp", "time", "T", "updatedTime", "execTime", "creationTime", "createdTime")
"""Field names tried, in order, for the row time when none is given."""


@dataclass(frozen=True, slots=True)
class Schema:
    """Column names and kinds plus the function that turns an item into a row."""

    time_field: str
    names: tuple[str, ...]
    kinds: tuple[Kind, ...]
    extract: Callable[[Any], tuple[Any, ...]]
    """``item -> (ts_ms, *values)``."""
    item_type: type | None = None
    """When set, items must be exactly this type (checked cheaply on every append)."""

    def dtypes(self) -> list[np.dtype[Any]]:
        """Ring column dtypes: the int64 time column first, then one per value column."""
        return [DTYPES["i"], *(DTYPES[k] for k in self.kinds)]

    def arrays(self, rows: Sequence[tuple[Any, ...]], report: Callable[[str], None]) -> list[NDArray[Any]]:
        """``rows`` as one array per ring column (time first). A value that does not fit its column's
        kind is replaced by a fill value (NaN, 0, False) and ``report`` is told, once per column."""
        cols = list(zip(*rows, strict=True))
        out = [np.fromiter(cols[0], dtype=np.int64, count=len(rows))]
        for name, kind, values in zip(self.names, self.kinds, cols[1:], strict=True):
            out.append(_column(values, kind, name, report))
        return out


def frame_column(kind: Kind, values: NDArray[Any]) -> Any:
    """A ring column as the pandas column ``.df`` shows: times as UTC datetimes, exact strings as
    ``str``, the rest as the array itself (no copy)."""
    if kind == "t":
        return pd.DatetimeIndex(values.view("datetime64[ms]")).tz_localize("UTC")
    if kind == "s":
        return pd.array(values, dtype="str")
    return values


_FILL: dict[Kind, Any] = {"f": math.nan, "i": 0, "b": False, "t": NAT_MS}
_KIND_NAME = {"f": "float", "i": "int", "b": "bool", "t": "epoch-ms time", "O": "object"}
_TRUE = frozenset(("1", "true", "True"))
_FALSE = frozenset(("0", "false", "False", ""))


def _exact(v: Any) -> Any:
    """An exact-string cell: strings as sent, numbers as their text, None stays missing."""
    return v if v is None or isinstance(v, str) else str(v)


def _one(v: Any, kind: Kind) -> Any:
    """One value converted to ``kind``; ``""``/None are the missing value; raises when it does not fit."""
    if kind == "f":
        return math.nan if v is None or v == "" else float(v)
    if kind == "t":
        if v is None or v == "":
            return NAT_MS
        return int(v) if isinstance(v, int | str) else int(float(v))
    if kind == "b":
        if isinstance(v, bool):
            return v
        if v in _TRUE or v == 1:
            return True
        if v in _FALSE or v == 0 or v is None:
            return False
        raise ValueError(v)
    return int(v)


def column(values: Sequence[Any], kind: Kind, name: str, report: Callable[[str], None]) -> NDArray[Any]:
    """``values`` as a numpy column of ``kind`` (ring storage: times as int64 ms, strings as objects).

    A value that does not fit is replaced by a fill value (NaN, 0, False, NaT) and ``report`` is told
    once, naming the column; ``""`` and None are simply missing."""
    return _column(values, kind, name, report)


def _column(values: Sequence[Any], kind: Kind, name: str, report: Callable[[str], None]) -> NDArray[Any]:
    n = len(values)
    if kind == "O":
        return np.fromiter(values, dtype=object, count=n)
    if kind == "s":
        return np.fromiter(map(_exact, values), dtype=object, count=n)
    if kind != "b" or all(type(v) is bool for v in values):  # numpy reads "0" as True: bools go one by one
        try:
            return np.array(values, dtype=DTYPES[kind])
        except (TypeError, ValueError, OverflowError):
            pass
    out = np.empty(n, dtype=DTYPES[kind])
    fill = _FILL[kind]
    bad, first = 0, None
    for i, v in enumerate(values):
        try:
            out[i] = _one(v, kind)
        except (TypeError, ValueError, OverflowError):
            out[i] = fill
            if not bad:
                first = v
            bad += 1
    if not bad:
        return out
    report(
        f"column {name!r}: {bad} value(s) are not {_KIND_NAME[kind]} (first: {first!r:.60}); "
        f"those rows were kept with {fill!r} there"
    )
    return out


def kind_of_array(a: NDArray[Any]) -> Kind:
    """The column kind that keeps an array's values: float, int (signed or not), bool, else object."""
    k = a.dtype.kind
    if k == "f":
        return "f"
    if k in "iu":
        return "i"
    if k == "b":
        return "b"
    return "O"


def arrays_only(item: Any) -> tuple[Any, ...]:
    """The row extractor of a schema made by ``append_arrays``: single items are refused."""
    raise TypeError("this frame was built with append_arrays(); feed it with append_arrays() too")


def _kind_of_annotation(tp: Any, name: str) -> Kind:
    if tp is float:
        return "f"
    if tp is bool:
        return "b"
    if tp is int:
        return "t" if name in TIME_NAMES else "i"
    if tp is str:
        return "s"
    return "O"


def _pick_time(names: Sequence[str], time_field: str | None, what: str) -> str:
    if time_field is not None:
        if time_field not in names:
            raise ValueError(f"time_field {time_field!r} is not a field of {what} (fields: {', '.join(names)})")
        return time_field
    for cand in TIME_FIELDS:
        if cand in names:
            return cand
    raise TypeError(
        f"cannot find an exchange timestamp in {what} (fields: {', '.join(names)}); "
        "pass time_field=... naming the epoch-milliseconds field"
    )


def _select(names: Sequence[str], columns: Sequence[str] | None, time: str, what: str) -> tuple[str, ...]:
    if columns is None:
        return tuple(n for n in names if n != time)
    missing = [c for c in columns if c not in names]
    if missing:
        raise ValueError(f"columns {missing} are not fields of {what} (fields: {', '.join(names)})")
    return tuple(c for c in columns if c != time)


def _ms(value: Any) -> int:
    """Epoch milliseconds from an int, float or numeric string (private streams send strings)."""
    return int(value)


def infer(
    item: Any, *, columns: Sequence[str] | None = None, time_field: str | None = None, schema: str | None = None
) -> Schema:
    """Build a :class:`Schema` from one example item; ``schema`` names the topic whose declared
    kinds mapping fields take (default: the topic recognised from the item's fields)."""
    tp = type(item)
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        hints = typing.get_type_hints(tp)
        fields = [f.name for f in dataclasses.fields(item)]
        what = tp.__name__
        time = _pick_time(fields, time_field, what)
        names = _select(fields, columns, time, what)
        kinds = tuple(_kind_of_annotation(hints.get(n), n) for n in names)
        return Schema(time, names, kinds, _getter(time, names), tp)
    if isinstance(item, tuple) and hasattr(tp, "_fields"):
        fields = list(tp._fields)
        hints = typing.get_type_hints(tp)
        what = tp.__name__
        time = _pick_time(fields, time_field, what)
        names = _select(fields, columns, time, what)
        kinds = tuple(_kind_of_annotation(hints.get(n), n) for n in names)
        return Schema(time, names, kinds, _getter(time, names), tp)
    if isinstance(item, Mapping):
        keys = [str(k) for k in item]
        what = f"{tp.__name__} items"
        # Tickers carry their time as an attribute, not a key.
        has_attr_ts = time_field is None and "ts" not in keys and isinstance(getattr(item, "ts", None), int)
        time = "ts" if has_attr_ts else _pick_time(keys, time_field, what)
        names = _select(keys, columns, time, what)
        topic = topic_schema(schema) if schema is not None else detect(item)
        kinds = tuple(_kind_of_mapping_field(n, item.get(n), topic) for n in names)
        return Schema(time, names, kinds, _mapping_getter(time, names, has_attr_ts))
    if isinstance(item, float | int | str):
        raise TypeError(
            f"a frame row needs an exchange timestamp, but the stream emits bare {tp.__name__} values; "
            "use items with a ts field (ops.mid(), ops.vwap() ... emit Point(ts, value))"
        )
    if hasattr(item, "best_bid") and hasattr(item, "bids"):
        raise TypeError("an order book is not a row stream: use ops.to_book(levels=...) for a BookFrame")
    raise TypeError(
        f"cannot make frame rows from {tp.__name__}: expected a dataclass, NamedTuple or mapping "
        "with an epoch-milliseconds time field"
    )


def _kind_of_mapping_field(name: str, v: Any, topic: TopicSchema | None) -> Kind:
    if isinstance(v, list | dict | tuple):
        return "O"  # a nested value (a wallet's coin list, a fee detail) stays an object
    declared = field_kind(name, topic)
    if declared is not None:
        return declared
    if isinstance(v, bool):
        return "b"
    if isinstance(v, float | int):
        return "f"
    if isinstance(v, str):
        return "s"
    return "O"


def _getter(time: str, names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    get = attrgetter(time, *names)
    if names:
        return get  # attrgetter with several names already returns a tuple
    return lambda item: (get(item),)


def _mapping_getter(time: str, names: tuple[str, ...], attr_ts: bool) -> Callable[[Any], tuple[Any, ...]]:
    if attr_ts:

        def extract_attr(m: Any) -> tuple[Any, ...]:
            return (m.ts, *map(m.get, names))

        return extract_attr

    def extract_key(m: Any) -> tuple[Any, ...]:
        return (_ms(m[time]), *map(m.get, names))

    return extract_key
