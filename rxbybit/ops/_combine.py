"""Several streams into one, keeping the label: ``combine_latest``, ``merge`` and ``zip``.

Reactivex's creation functions (``reactivex.combine_latest(a, b)``) make a plain observable that
knows nothing of where its sources' data comes from. These do the same and return a
:class:`~rxbybit.client.stream.Stream` whose provenance is the strongest of the sources' (REPLAY,
then SIMULATED, then LIVE), so a frame or chart of VWAP and spread from the simulator says SIMULATED.
"""

from __future__ import annotations

from typing import Any

import reactivex as rx

from ..client.stream import Stream, combined


def combine_latest(*sources: rx.Observable[Any]) -> Stream[tuple[Any, ...]]:
    """The latest value of every source as a tuple, each time any of them emits (once all have)."""
    return Stream.wrap(rx.combine_latest(*sources), combined(*sources))


def merge(*sources: rx.Observable[Any]) -> Stream[Any]:
    """Every value of every source, as they come."""
    return Stream.wrap(rx.merge(*sources), combined(*sources))


def zip(*sources: rx.Observable[Any]) -> Stream[tuple[Any, ...]]:
    """The n-th values of every source together, as a tuple."""
    return Stream.wrap(rx.zip(*sources), combined(*sources))
