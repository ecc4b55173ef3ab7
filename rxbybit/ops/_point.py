"""Point: one number stamped with exchange time, what the metric operators emit."""

from __future__ import annotations

from typing import NamedTuple


class Point(NamedTuple):
    """``value`` at exchange time ``ts`` (epoch ms) for ``symbol``.

    A tuple, so ``ts, value, symbol = p`` works; frames index it by ``ts``
    (``book.pipe(ops.mid(), ops.to_frame())``).
    """

    ts: int
    value: float
    symbol: str = ""
