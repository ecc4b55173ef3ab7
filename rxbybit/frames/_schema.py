"""Row schemas: how an item (a Trade, a Candle, a Ticker, a private dict...) becomes one frame row.

A schema is inferred from the first item unless given. Each row is ``(ts_ms, *values)``; the time
comes from the exchange (``ts``, ``start``, ``T``, ``updatedTime``...), never the local clock.
Dataclass and NamedTuple fields keep their declared types (``float`` -> float64, ``int`` -> int64,
``bool`` -> bool, anything else -> object); mapping values are float64 when the first item holds a
number there and object (exact, e.g. private strings) otherwise.
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
from numpy.typing import NDArray

Kind = str
"""A numpy dtype character: ``f`` (float64), ``i`` (int64), ``b`` (bool) or ``O`` (object)."""

DTYPES: dict[Kind, np.dtype[Any]] = {
    "f": np.dtype(np.float64),
    "i": np.dtype(np.int64),
    "b": np.dtype(np.bool_),
    "O": np.dtype(object),
}

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


_FILL: dict[Kind, Any] = {"f": math.nan, "i": 0, "b": False}
_KIND_NAME = {"f": "float", "i": "int", "b": "bool", "O": "object"}


def _column(values: Sequence[Any], kind: Kind, name: str, report: Callable[[str], None]) -> NDArray[Any]:
    n = len(values)
    if kind == "O":
        return np.fromiter(values, dtype=object, count=n)
    try:
        return np.array(values, dtype=DTYPES[kind])
    except (TypeError, ValueError, OverflowError):
        pass
    out = np.empty(n, dtype=DTYPES[kind])
    fill = _FILL[kind]
    bad, first = 0, None
    for i, v in enumerate(values):
        try:
            out[i] = v
        except (TypeError, ValueError, OverflowError):
            out[i] = fill
            if not bad:
                first = v
            bad += 1
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


def _kind_of_annotation(tp: Any) -> Kind:
    if tp is float:
        return "f"
    if tp is bool:
        return "b"
    if tp is int:
        return "i"
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


def infer(item: Any, *, columns: Sequence[str] | None = None, time_field: str | None = None) -> Schema:
    """Build a :class:`Schema` from one example item."""
    tp = type(item)
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        hints = typing.get_type_hints(tp)
        fields = [f.name for f in dataclasses.fields(item)]
        what = tp.__name__
        time = _pick_time(fields, time_field, what)
        names = _select(fields, columns, time, what)
        kinds = tuple(_kind_of_annotation(hints.get(n)) for n in names)
        return Schema(time, names, kinds, _getter(time, names), tp)
    if isinstance(item, tuple) and hasattr(tp, "_fields"):
        fields = list(tp._fields)
        hints = typing.get_type_hints(tp)
        what = tp.__name__
        time = _pick_time(fields, time_field, what)
        names = _select(fields, columns, time, what)
        kinds = tuple(_kind_of_annotation(hints.get(n)) for n in names)
        return Schema(time, names, kinds, _getter(time, names), tp)
    if isinstance(item, Mapping):
        keys = [str(k) for k in item]
        what = f"{tp.__name__} items"
        # Tickers carry their time as an attribute, not a key.
        has_attr_ts = time_field is None and "ts" not in keys and isinstance(getattr(item, "ts", None), int)
        time = "ts" if has_attr_ts else _pick_time(keys, time_field, what)
        names = _select(keys, columns, time, what)
        kinds = tuple(_kind_of_mapping_value(item.get(n)) for n in names)
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


def _kind_of_mapping_value(v: Any) -> Kind:
    if isinstance(v, bool):
        return "O"
    if isinstance(v, float | int):
        return "f"
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
