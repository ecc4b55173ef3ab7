"""A columnar ring buffer: fixed-capacity numpy columns that keep the newest rows.

Memory is allocated once (``capacity`` rows per column) and never grows: appending past the
capacity overwrites the oldest rows. Rows are read back oldest-first as fresh contiguous arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray


class ColumnRing:
    """Fixed-size columns sharing one write position. Column 0 is conventionally the time (int64 ms)."""

    __slots__ = ("_cols", "_size", "_start", "capacity")

    def __init__(self, dtypes: Sequence[np.dtype[Any]], capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"ring capacity must be at least 1 row, got {capacity}")
        self.capacity = capacity
        self._cols: list[NDArray[Any]] = [np.empty(capacity, dtype=dt) for dt in dtypes]
        self._start = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        """Bytes held by the column arrays (object columns count their pointers only)."""
        return sum(c.nbytes for c in self._cols)

    def extend(self, arrays: Sequence[NDArray[Any]]) -> None:
        """Append equal-length column arrays; rows beyond the capacity push out the oldest."""
        k = len(arrays[0])
        if k == 0:
            return
        cap = self.capacity
        if k >= cap:
            for col, a in zip(self._cols, arrays, strict=True):
                col[:] = a[k - cap :]
            self._start, self._size = 0, cap
            return
        end = (self._start + self._size) % cap
        first = min(k, cap - end)
        for col, a in zip(self._cols, arrays, strict=True):
            col[end : end + first] = a[:first]
            if first < k:
                col[: k - first] = a[first:]
        overflow = self._size + k - cap
        if overflow > 0:
            self._start = (self._start + overflow) % cap
            self._size = cap
        else:
            self._size += k

    def drop_front(self, n: int) -> None:
        """Forget the ``n`` oldest rows."""
        n = min(max(n, 0), self._size)
        if n:
            for col in self._cols:
                if col.dtype == object:  # release references to dropped values
                    _clear(col, self._start, n, self.capacity)
            self._start = (self._start + n) % self.capacity
            self._size -= n

    def replace_last(self, row: Sequence[Any]) -> None:
        """Overwrite the newest row in place (used to update a still-open candle)."""
        if not self._size:
            raise IndexError("replace_last on an empty ring")
        i = (self._start + self._size - 1) % self.capacity
        for col, v in zip(self._cols, row, strict=True):
            col[i] = v

    def last(self, column: int) -> Any:
        """The newest value of one column."""
        if not self._size:
            raise IndexError("last on an empty ring")
        return self._cols[column][(self._start + self._size - 1) % self.capacity]

    def column(self, i: int, n: int | None = None) -> NDArray[Any]:
        """A contiguous copy of column ``i`` (its newest ``n`` rows, all if None), oldest first."""
        size = self._size if n is None else min(max(n, 0), self._size)
        col = self._cols[i]
        start = (self._start + self._size - size) % self.capacity
        stop = start + size
        if stop <= self.capacity:
            return col[start:stop].copy()
        return np.concatenate((col[start:], col[: stop - self.capacity]))

    def clear(self) -> None:
        """Drop every row."""
        self.drop_front(self._size)
        self._start = 0


def _clear(col: NDArray[Any], start: int, n: int, cap: int) -> None:
    stop = start + n
    if stop <= cap:
        col[start:stop] = None
    else:
        col[start:] = None
        col[: stop - cap] = None
