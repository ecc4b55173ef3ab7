"""Watching books in chaos tests: every emitted view is checked, the last one compared with the simulator."""

from __future__ import annotations

from helpers import eventually

from rxbybit.protocol import BookView
from rxbybit.protocol.endpoints import Category
from rxbybit.sim import Simulator


class BookWatch:
    """One observer of one book: keeps its views by ``u`` and counts the bad ones."""

    def __init__(self, category: Category, topic: str) -> None:
        self.category = category
        self.topic = topic
        self.views = 0
        self.by_u: dict[int, BookView] = {}
        self.violations: list[str] = []
        self.last_u = 0

    def __call__(self, view: BookView) -> None:
        if view.u < self.last_u:  # a restart or a fresh snapshot of a resync: ids may start again
            self.by_u.clear()
        if view.crossed:
            self.violations.append(f"{self.topic}: crossed book at u={view.u}")
        self.views += 1
        self.last_u = view.u
        self.by_u[view.u] = view
        if len(self.by_u) > 2_000:
            self.by_u.pop(next(iter(self.by_u)))

    async def matches(self, sim: Simulator, timeout: float = 10.0) -> None:
        """Take the book the simulator publishes now, wait until this observer has seen that ``u``
        (data travels with latency), and compare every level."""
        u, bids, asks = sim.published_book(self.category, self.topic)
        await eventually(lambda: u in self.by_u or self.last_u > u, timeout,
                         f"{self.topic} ({self.category}) to reach the simulator's u={u} "
                         f"(seen {self.views} views, the last at u={self.last_u})")
        view = self.by_u.get(u)
        assert view is not None, f"{self.topic}: u={u} was skipped (last u={self.last_u})"
        assert view.bids() == [tuple(x) for x in bids], self.topic
        assert view.asks() == [tuple(x) for x in asks], self.topic


def exchange_topics(sim: Simulator) -> set[tuple[str, str]]:
    """``(path, topic)`` of every subscription the simulator holds: the truth, whatever the client believes."""
    return {(c.path, t) for c in sim.connections for t in c.subs}
