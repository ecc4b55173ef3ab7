"""ColumnRing against a naive list model: whatever the operations, it holds the newest rows in order."""

from __future__ import annotations

import weakref

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxbybit.frames.ring import ColumnRing

ops_strategy = st.lists(
    st.one_of(
        st.tuples(st.just("extend"), st.integers(0, 25)),
        st.tuples(st.just("drop"), st.integers(0, 10)),
        st.tuples(st.just("replace"), st.integers(0, 0)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(cap=st.integers(1, 12), operations=ops_strategy)
def test_ring_matches_a_list_model(cap: int, operations: list[tuple[str, int]]) -> None:
    ring = ColumnRing([np.dtype(np.int64), np.dtype(object)], cap)
    model: list[int] = []
    counter = 0
    for op, k in operations:
        if op == "extend":
            vals = np.arange(counter, counter + k, dtype=np.int64)
            counter += k
            ring.extend([vals, np.array([f"v{v}" for v in vals], dtype=object).reshape(-1)])
            model = (model + vals.tolist())[-cap:]
        elif op == "drop":
            ring.drop_front(k)
            model = model[k:]
        elif model:
            ring.replace_last([-1, "v-1"])
            model[-1] = -1
        assert len(ring) == len(model)
        assert ring.column(0).tolist() == model
        assert ring.column(1).tolist() == [f"v{v}" for v in model]
        for n in (0, 1, 3):
            assert ring.column(0, n).tolist() == (model[-n:] if n else [])


def test_ring_rejects_zero_capacity_and_empty_reads() -> None:
    with pytest.raises(ValueError, match="capacity"):
        ColumnRing([np.dtype(np.int64)], 0)
    ring = ColumnRing([np.dtype(np.int64)], 3)
    with pytest.raises(IndexError):
        ring.last(0)
    with pytest.raises(IndexError):
        ring.replace_last([1])


class _Value:
    """An object that can be weakly referenced, to see when the ring lets go of it."""

    def __init__(self, name: str) -> None:
        self.name = name


def test_dropped_object_values_are_released() -> None:
    ring = ColumnRing([np.dtype(np.int64), np.dtype(object)], 4)
    values = [_Value(n) for n in "abcd"]
    refs = [weakref.ref(v) for v in values]
    column = np.empty(4, dtype=object)
    column[:] = values
    ring.extend([np.arange(4), column])
    del values, column
    ring.drop_front(2)
    assert [r() is None for r in refs] == [True, True, False, False]
    assert [v.name for v in ring.column(1).tolist()] == ["c", "d"]
