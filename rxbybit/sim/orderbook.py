"""The simulated order book: price levels of synthetic size plus resting user orders, sorted from the touch.

Prices and sizes are integer units of the instrument (see :mod:`.instruments`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal

Side = Literal["Buy", "Sell"]
"""Book side by the order that rests there: ``Buy`` = bids, ``Sell`` = asks."""

BOOK_LEVELS: Final[dict[str, int]] = {"spot": 1_100, "linear": 1_100, "inverse": 1_100, "option": 130}
"""Levels kept per side (enough for the deepest topic of the category)."""


SIDES: Final[tuple[Side, Side]] = ("Buy", "Sell")


def opposite(side: Side) -> Side:
    """The other side."""
    return "Sell" if side == "Buy" else "Buy"


@dataclass(slots=True, eq=False)
class Resting:
    """A user's order resting in the book; ``owner`` is the engine's order object."""

    side: Side
    price: int
    leaves: int
    owner: Any = None


class BookWatch:
    """What changed in a :class:`Book` since the watcher last looked (see :meth:`Book.watch`).

    ``prices`` holds, per side, every price whose shown size may have changed; ``moved`` is True
    once a price level appeared or disappeared (the best ``n`` levels may then be other prices).
    """

    __slots__ = ("moved", "prices")

    def __init__(self) -> None:
        self.prices: dict[Side, set[int]] = {"Buy": set(), "Sell": set()}
        self.moved = False

    def clear(self) -> None:
        """Start afresh: nothing changed."""
        self.prices["Buy"].clear()
        self.prices["Sell"].clear()
        self.moved = False


class Book:
    """Price levels of both sides: synthetic size plus user orders, kept sorted from the touch."""

    __slots__ = ("_keys", "rest", "synth", "watches")

    def __init__(self) -> None:
        self.synth: dict[Side, dict[int, int]] = {"Buy": {}, "Sell": {}}
        self.rest: dict[Side, dict[int, list[Resting]]] = {"Buy": {}, "Sell": {}}
        self._keys: dict[Side, list[int]] = {"Buy": [], "Sell": []}
        self.watches: list[BookWatch] = []

    def watch(self) -> BookWatch:
        """A new watcher told of every change from now on (book feeds diff only what changed)."""
        w = BookWatch()
        self.watches.append(w)
        return w

    def touched(self, side: Side, price: int, moved: bool = False) -> None:
        """Tell the watchers that the size at ``price`` changed (``moved``: the level came or went).

        The book's own methods call it; code that changes a resting order's ``leaves`` in place
        must call it too.
        """
        for w in self.watches:
            w.prices[side].add(price)
            if moved:
                w.moved = True

    @staticmethod
    def _k(side: Side, price: int) -> int:
        return -price if side == "Buy" else price

    def size(self, side: Side, price: int) -> int:
        """Total size shown at ``price``."""
        size = self.synth[side].get(price, 0)
        rest = self.rest[side].get(price)
        return size + sum(r.leaves for r in rest) if rest else size

    def best(self, side: Side) -> int | None:
        """Best price of a side, or None when it is empty."""
        keys = self._keys[side]
        if not keys:
            return None
        return -keys[0] if side == "Buy" else keys[0]

    def worst(self, side: Side) -> int | None:
        """Deepest price of a side, or None when it is empty."""
        keys = self._keys[side]
        if not keys:
            return None
        return -keys[-1] if side == "Buy" else keys[-1]

    def count(self, side: Side) -> int:
        """Number of price levels on a side."""
        return len(self._keys[side])

    def price_at(self, side: Side, index: int) -> int:
        """Price of the ``index``-th level from the touch."""
        k = self._keys[side][index]
        return -k if side == "Buy" else k

    def levels(self, side: Side) -> Iterator[tuple[int, int]]:
        """Every level of a side as ``(price, size)``, best first, lazily (stop early when you can)."""
        sign = -1 if side == "Buy" else 1
        for k in self._keys[side]:
            p = sign * k
            yield p, self.size(side, p)

    def top(self, side: Side, n: int) -> list[tuple[int, int]]:
        """The best ``n`` levels of a side as ``(price, size)``, best first."""
        sign = -1 if side == "Buy" else 1
        synth, rest = self.synth[side], self.rest[side]
        out = []
        for k in self._keys[side][:n]:
            p = sign * k
            s = synth.get(p, 0)
            if rest:
                s += sum(r.leaves for r in rest.get(p, ()))
            out.append((p, s))
        return out

    def touch(self, side: Side) -> tuple[int, int]:
        """The best level of a side as ``(price, size)``, or ``(0, 0)`` when the side is empty."""
        return (self.top(side, 1) or [(0, 0)])[0]

    def _sync_level(self, side: Side, price: int) -> None:
        present = price in self.synth[side] or price in self.rest[side]
        keys = self._keys[side]
        k = self._k(side, price)
        i = bisect_left(keys, k)
        listed = i < len(keys) and keys[i] == k
        moved = present != listed
        if present and not listed:
            keys.insert(i, k)
        elif listed and not present:
            del keys[i]
        if self.watches:
            self.touched(side, price, moved)

    def set_synth(self, side: Side, price: int, size: int) -> None:
        """Set the synthetic size at ``price`` (0 removes it)."""
        if size > 0:
            self.synth[side][price] = size
        else:
            self.synth[side].pop(price, None)
        self._sync_level(side, price)

    def add_resting(self, order: Resting) -> None:
        """Queue a user order at its price (behind other user orders there)."""
        self.rest[order.side].setdefault(order.price, []).append(order)
        self._sync_level(order.side, order.price)

    def remove_resting(self, order: Resting) -> None:
        """Take a user order out of the book (no-op if it is not there)."""
        queue = self.rest[order.side].get(order.price)
        if queue and order in queue:
            queue.remove(order)
            if not queue:
                del self.rest[order.side][order.price]
            self._sync_level(order.side, order.price)
