"""OrderBook: unit rules, property tests against a naive dict model, real recordings."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rxbybit.protocol import Applied, BookUpdate, OrderBook, decode

from .conftest import cryptofeed_received, lines


def upd(u: int, bids: list[tuple[float, float]] = (), asks: list[tuple[float, float]] = (), *,  # type: ignore[assignment]
        snapshot: bool = False, depth: int = 50) -> BookUpdate:
    return BookUpdate(f"orderbook.{depth}.BTCUSDT", "BTCUSDT", depth, snapshot, 1000 + u, u, u * 10,
                      list(bids), list(asks))


# --------------------------------------------------------------------------- unit rules


def test_snapshot_then_contiguous_deltas() -> None:
    book = OrderBook()
    assert book.apply(upd(5, [(99.0, 1.0)], [(100.0, 1.0)])) is Applied.REFUSED  # delta before any snapshot
    assert book.apply(upd(10, [(99.0, 1.0), (98.0, 2.0)], [(100.0, 3.0)], snapshot=True)) is Applied.SNAPSHOT
    assert book.synced and book.symbol == "BTCUSDT" and book.depth == 50
    assert book.apply(upd(11, [(98.0, 0.0), (97.5, 4.0)], [(100.5, 1.0)])) is Applied.DELTA
    assert book.bids() == [(99.0, 1.0), (97.5, 4.0)]
    assert book.asks() == [(100.0, 3.0), (100.5, 1.0)]
    assert book.best_bid == (99.0, 1.0) and book.best_ask == (100.0, 3.0)
    assert book.mid == 99.5 and book.spread == 1.0 and book.u == 11 and book.seq == 110


def test_deleting_a_missing_level_is_harmless() -> None:
    book = OrderBook()
    book.apply(upd(1_000, [(99.0, 1.0)], [(100.0, 1.0)], snapshot=True))
    assert book.apply(upd(1_001, [(42.0, 0.0)], [(4242.0, 0.0)])) is Applied.DELTA
    assert len(book) == 2


def test_stale_gap_and_refusal_until_snapshot() -> None:
    book = OrderBook()
    book.apply(upd(10, [(99.0, 1.0)], [(100.0, 1.0)], snapshot=True))
    assert book.apply(upd(10, [(99.0, 5.0)])) is Applied.STALE
    assert book.apply(upd(9, [(99.0, 5.0)])) is Applied.STALE
    assert book.best_bid == (99.0, 1.0) and book.synced
    assert book.apply(upd(12, [(99.0, 5.0)])) is Applied.GAP
    assert book.needs_resync and book.best_bid == (99.0, 1.0)  # the gap delta was not applied
    assert book.apply(upd(11, [(99.0, 5.0)])) is Applied.REFUSED  # even the "missing" one: state is unknown
    assert book.apply(upd(13, [(99.0, 5.0)])) is Applied.REFUSED
    assert book.apply(upd(50, [(98.0, 1.0)], [(101.0, 1.0)], snapshot=True)) is Applied.SNAPSHOT
    assert book.synced and book.bids() == [(98.0, 1.0)]


def test_u_equal_1_snapshot_is_a_restart() -> None:
    book = OrderBook()
    book.apply(upd(500, [(99.0, 1.0)], [(100.0, 1.0)], snapshot=True))
    book.apply(upd(501, [(98.0, 1.0)]))
    assert book.apply(upd(1, [(90.0, 1.0)], [(91.0, 1.0)], snapshot=True)) is Applied.RESTART
    assert book.restarts == 1 and book.u == 1 and book.bids() == [(90.0, 1.0)]
    assert book.apply(upd(2, [(89.0, 2.0)])) is Applied.DELTA  # counting starts again from 1


def test_level1_repeated_snapshot_with_same_u_is_not_a_gap() -> None:
    book = OrderBook()
    one = upd(7, [(99.0, 1.0)], [(100.0, 1.0)], snapshot=True, depth=1)
    assert book.apply(one) is Applied.SNAPSHOT
    assert book.apply(one) is Applied.SNAPSHOT
    assert book.synced and book.u == 7


def test_crossed_delta_and_crossed_snapshot_need_resync() -> None:
    book = OrderBook()
    book.apply(upd(1_0, [(99.0, 1.0)], [(100.0, 1.0)], snapshot=True))
    assert book.apply(upd(11, [(100.0, 2.0)])) is Applied.CROSSED
    assert book.crossed and book.needs_resync
    assert book.apply(upd(12, [(50.0, 2.0)])) is Applied.REFUSED
    other = OrderBook()
    assert other.apply(upd(3, [(101.0, 1.0)], [(100.0, 1.0)], snapshot=True)) is Applied.CROSSED
    assert other.needs_resync and not Applied.CROSSED.changed


def test_depth_window_holds_for_snapshots_and_deltas() -> None:
    book = OrderBook(depth=3)
    book.apply(upd(1_000, [(float(p), 1.0) for p in range(90, 99)], [(float(p), 1.0) for p in range(100, 110)],
                   snapshot=True))
    assert [p for p, _ in book.bids()] == [98.0, 97.0, 96.0]
    assert [p for p, _ in book.asks()] == [100.0, 101.0, 102.0]
    book.apply(upd(1_001, [(98.5, 1.0)], [(99.5, 1.0)]))
    assert [p for p, _ in book.bids()] == [98.5, 98.0, 97.0]
    assert [p for p, _ in book.asks()] == [99.5, 100.0, 101.0]


def test_views_are_immutable_cheap_and_match_arrays() -> None:
    book = OrderBook()
    book.apply(upd(1, [(99.0, 1.0), (98.0, 2.0)], [(100.0, 3.0)], snapshot=True))
    v = book.view()
    book.apply(upd(2, [(99.0, 0.0), (97.0, 5.0)], [(100.0, 9.0), (101.0, 1.0)]))
    assert v.bids() == [(99.0, 1.0), (98.0, 2.0)] and v.asks() == [(100.0, 3.0)] and v.u == 1
    assert book.bids() == [(98.0, 2.0), (97.0, 5.0)]
    bids, asks = book.view().arrays(1)
    assert bids.dtype == np.float64 and bids.tolist() == [[98.0, 2.0]] and asks.tolist() == [[100.0, 9.0]]
    empty_bids, _ = OrderBook().arrays()
    assert empty_bids.shape == (0, 2)
    with pytest.raises(AttributeError):
        v.u = 5  # type: ignore[misc]
    assert "BookView(BTCUSDT u=1" in repr(v)


def test_book_update_is_frozen_and_compares_by_value() -> None:
    a = BookUpdate("orderbook.1.X", "X", 1, True, 1, 2, 3, [(1.0, 1.0)], [], 4)
    b = BookUpdate("orderbook.1.X", "X", 1, True, 1, 2, 3, [(1.0, 1.0)], [], 4)
    assert a == b and a != BookUpdate("orderbook.1.X", "X", 1, True, 1, 3, 3, [(1.0, 1.0)], [], 4)
    assert repr(a).startswith("BookUpdate(topic='orderbook.1.X', symbol='X'")
    with pytest.raises(AttributeError):
        a.u = 3  # type: ignore[misc]


# --------------------------------------------------------------------------- property test vs a naive model


@dataclass
class Model:
    """The rules written as plainly as possible: two dicts, a last u, a synced flag."""

    depth: int
    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    u: int = 0
    synced: bool = False

    def _trim(self) -> None:
        self.bids = dict(sorted(self.bids.items(), reverse=True)[: self.depth])
        self.asks = dict(sorted(self.asks.items())[: self.depth])

    def crossed(self) -> bool:
        return bool(self.bids and self.asks and max(self.bids) >= min(self.asks))

    def apply(self, up: BookUpdate) -> Applied:
        if up.snapshot:
            self.bids = {p: s for p, s in up.bids if s}
            self.asks = {p: s for p, s in up.asks if s}
            self._trim()
            self.u = up.u
            self.synced = not self.crossed()
            if not self.synced:
                return Applied.CROSSED
            return Applied.RESTART if up.u == 1 else Applied.SNAPSHOT
        if not self.synced:
            return Applied.REFUSED
        if up.u <= self.u:
            return Applied.STALE
        if up.u != self.u + 1:
            self.synced = False
            return Applied.GAP
        for side, levels in ((self.bids, up.bids), (self.asks, up.asks)):
            for p, s in levels:
                if s == 0:
                    side.pop(p, None)
                else:
                    side[p] = s
        self._trim()
        self.u = up.u
        if self.crossed():
            self.synced = False
            return Applied.CROSSED
        return Applied.DELTA


prices = st.integers(0, 40).map(lambda i: 100.0 + i * 0.5)
sizes = st.one_of(st.just(0.0), st.integers(1, 50).map(lambda i: i / 10))
levels = st.lists(st.tuples(prices, sizes), max_size=8)
step = st.tuples(
    st.sampled_from(["delta"] * 8 + ["gap", "stale", "repeat_u", "snapshot", "restart", "level1_repeat"]),
    levels,
    levels,
)


def _side(levels: list[tuple[float, float]], bid: bool) -> list[tuple[float, float]]:
    # keep bids mostly below 110 and asks mostly above, so crossing is possible but not constant
    return [(p - 6.0, s) if bid else (p + 4.0, s) for p, s in levels]


@settings(max_examples=250, deadline=None)
@given(st.integers(1, 12), st.lists(step, min_size=1, max_size=60))
def test_book_matches_naive_model(depth: int, steps: list[tuple[str, list[tuple[float, float]],
                                                                   list[tuple[float, float]]]]) -> None:
    book = OrderBook(depth=depth)
    model = Model(depth)
    held: list[tuple[object, list[tuple[float, float]], list[tuple[float, float]], int]] = []
    u = 100
    for kind, b, a in steps:
        bids, asks = _side(b, True), _side(a, False)
        if kind == "snapshot":
            u += 7
            up = upd(u, bids, asks, snapshot=True, depth=depth)
        elif kind == "restart":
            u = 1
            up = upd(u, bids, asks, snapshot=True, depth=depth)
        elif kind == "level1_repeat":
            up = upd(u, bids, asks, snapshot=True, depth=depth)
        elif kind == "gap":
            u += 3
            up = upd(u, bids, asks, depth=depth)
        elif kind == "stale":
            up = upd(u - 2, bids, asks, depth=depth)
        elif kind == "repeat_u":
            up = upd(u, bids, asks, depth=depth)
        else:
            u += 1
            up = upd(u, bids, asks, depth=depth)
        got = book.apply(up)
        assert got is model.apply(up), (kind, up)
        assert book.synced == model.synced
        if model.synced:
            assert book.bids() == sorted(model.bids.items(), reverse=True)
            assert book.asks() == sorted(model.asks.items())
            assert book.u == model.u
        assert len(book.bids()) <= depth and len(book.asks()) <= depth
        view = book.view()
        held.append((view, view.bids(), view.asks(), view.u))
        if kind == "gap" and model.synced is False:
            u = u  # the stream goes on; the next snapshot brings it back
    for view, vb, va, vu in held:  # no later update changed a view already handed out
        assert view.bids() == vb and view.asks() == va and view.u == vu  # type: ignore[attr-defined]
        pb, pa = view.arrays()  # type: ignore[attr-defined]
        assert pb.tolist() == [list(x) for x in vb] and pa.tolist() == [list(x) for x in va]


# --------------------------------------------------------------------------- real recordings


def test_xrpusdt_500_level_recording_applies_without_gap_and_stays_uncrossed() -> None:
    frames = lines("nautilus_trader/2024-12-01_XRPUSDT_ob500.jsonl")
    assert len(frames) == 50
    book = OrderBook()
    results = []
    for f in frames:
        ev = decode(f)
        assert isinstance(ev, BookUpdate)
        results.append(book.apply(ev))
        assert not book.crossed
        assert len(book.bids()) <= 500 and len(book.asks()) <= 500
    assert results[0] is Applied.SNAPSHOT
    assert results[1:] == [Applied.DELTA] * 49
    assert book.synced and book.depth == 500
    bb, ba = book.best_bid, book.best_ask
    assert bb is not None and ba is not None and 1.9 < bb[0] < ba[0] < 2.0
    # replaying the same deltas again is stale, never a gap
    assert book.apply(decode(frames[10])) is Applied.STALE  # type: ignore[arg-type]


@pytest.mark.parametrize("log", ["cryptofeed/BYBIT.ws.1.0", "cryptofeed/BYBIT.ws.2.0"])
def test_cryptofeed_level1_snapshots_with_repeated_u(log: str) -> None:
    books: dict[str, OrderBook] = {}
    repeats = 0
    for text in cryptofeed_received(log):
        ev = decode(text)
        if not isinstance(ev, BookUpdate):
            continue
        assert ev.snapshot and ev.depth == 1
        book = books.setdefault(ev.symbol, OrderBook())
        repeats += ev.u == book.u
        assert book.apply(ev) in (Applied.SNAPSHOT, Applied.RESTART)
        assert book.synced and len(book.bids()) <= 1 and len(book.asks()) <= 1
        assert book.bids() == [lv for lv in ev.bids if lv[1]] and book.u == ev.u
    assert repeats > 5  # the logs do contain the 3-second re-sends with an unchanged u
    assert len(books) in (4, 6)


def test_a_held_view_never_changes_even_when_newer_views_were_dropped() -> None:
    """Copy-on-write skips the copy when no view is alive; an older view that shares one side
    with a dropped newer view must still be protected."""
    import gc

    from rxbybit.protocol import BookUpdate, OrderBook

    def upd(u: int, bids: list[tuple[float, float]], asks: list[tuple[float, float]], snap: bool = False) -> BookUpdate:
        return BookUpdate("orderbook.50.X", "X", 50, snap, u, u, u, bids, asks)

    book = OrderBook("X", 50)
    book.apply(upd(10, [(99.0, 1.0), (98.0, 1.0)], [(101.0, 1.0), (102.0, 1.0)], snap=True))
    held = book.view()
    before = (held.bids(), held.asks())
    book.apply(upd(11, [(99.0, 5.0)], []))  # bids only: bids copied, asks still shared with `held`
    dropped = book.view()
    del dropped
    gc.collect()
    book.apply(upd(12, [], [(101.0, 0.0), (103.0, 2.0)]))  # asks: `held` still shares them
    assert (held.bids(), held.asks()) == before
    assert book.asks() == [(102.0, 1.0), (103.0, 2.0)]
    transient = book.view().u  # a view nobody keeps: the next update needs no copy
    book.apply(upd(13, [(97.0, 1.0)], [(104.0, 1.0)]))
    assert transient == 12 and book.u == 13 and (held.bids(), held.asks()) == before


def test_held_views_match_their_update_through_random_holding_and_dropping() -> None:
    """Copy-on-write is decided per side by who still holds it: views kept, dropped and kept again
    in any order each stay exactly as the book was at their ``u`` (a seeded random walk)."""
    import random

    from rxbybit.protocol import BookUpdate, OrderBook

    rng = random.Random(5)
    book = OrderBook("X", 20)
    bids = {100.0 - i: 1.0 for i in range(10)}
    asks = {101.0 + i: 1.0 for i in range(10)}
    book.apply(BookUpdate("orderbook.50.X", "X", 20, True, 1, 1, 1, sorted(bids.items(), reverse=True),
                          sorted(asks.items())))
    held: list[tuple[object, list[tuple[float, float]], list[tuple[float, float]]]] = []
    for u in range(2, 600):
        side_b: list[tuple[float, float]] = []
        side_a: list[tuple[float, float]] = []
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.5:
                p = float(rng.randint(85, 100))
                s = 0.0 if rng.random() < 0.3 else float(rng.randint(1, 9))
                side_b.append((p, s))
            else:
                p = float(rng.randint(101, 116))
                s = 0.0 if rng.random() < 0.3 else float(rng.randint(1, 9))
                side_a.append((p, s))
        assert book.apply(BookUpdate("orderbook.50.X", "X", 20, False, u, u, u, side_b, side_a)).changed
        r = rng.random()
        if r < 0.3:
            view = book.view()
            held.append((view, view.bids(), view.asks()))
        elif r < 0.5 and held:
            held.pop(rng.randrange(len(held)))
        elif r < 0.6:
            book.view()  # taken and dropped at once
    assert len(held) > 20
    for view, b, a in held:
        assert (view.bids(), view.asks()) == (b, a)  # type: ignore[attr-defined]


def _model_apply(model: dict[str, dict[float, float]], bids: list[tuple[float, float]],
                 asks: list[tuple[float, float]], depth: int) -> None:
    """The plain reading of Bybit's rules, level by level, with the depth window kept by sorting."""
    for side, levels in (("b", bids), ("a", asks)):
        book = model[side]
        for p, s in levels:
            if s:
                book[p] = s
            else:
                book.pop(p, None)
        keep = sorted(book, reverse=side == "b")[:depth]
        model[side] = {p: book[p] for p in keep}


@pytest.mark.parametrize("seed", range(6))
def test_book_matches_a_plain_model_whatever_is_read_and_when(seed: int) -> None:
    """Random deltas (inserts past the depth, deletes of the best, size changes), read at random
    moments (every level, the top few, only the best, or nothing for long runs): the book, and
    every view taken on the way, agree with a plain model of the rules."""
    import random

    from rxbybit.protocol import BookUpdate, OrderBook

    rng = random.Random(seed)
    depth = rng.choice((5, 12, 50))
    model: dict[str, dict[float, float]] = {"b": {}, "a": {}}
    snap_b = [(1000.0 - i, float(rng.randint(1, 9))) for i in range(depth)]
    snap_a = [(1001.0 + i, float(rng.randint(1, 9))) for i in range(depth)]
    book = OrderBook("X")
    assert book.apply(BookUpdate("orderbook.50.X", "X", depth, True, 1, 100, 1, snap_b, snap_a)) is Applied.SNAPSHOT
    _model_apply(model, snap_b, snap_a, depth)
    views: list[tuple[object, list[tuple[float, float]], list[tuple[float, float]]]] = []
    quiet = 0
    for u in range(101, 1600):
        best_b, best_a = max(model["b"]), min(model["a"])
        bids: list[tuple[float, float]] = []
        asks: list[tuple[float, float]] = []
        for _ in range(rng.randint(1, 6)):
            r = rng.random()
            if r < 0.15:  # delete the best of a side
                bids.append((best_b, 0.0)) if rng.random() < 0.5 else asks.append((best_a, 0.0))
            elif r < 0.3:  # delete any price (maybe not in the book)
                bids.append((best_b - rng.randint(0, depth + 3), 0.0))
            elif r < 0.5:  # a new price inside the spread or deep in the book (may push one out)
                bids.append((best_b - rng.randint(-1, depth + 3) + 0.5 * rng.randint(0, 1), 1.0))
            else:
                asks.append((best_a + rng.randint(-1, depth + 3) - 0.5 * rng.randint(0, 1), float(rng.randint(1, 9))))
        trial = {"b": dict(model["b"]), "a": dict(model["a"])}
        _model_apply(trial, bids, asks, depth)
        if not trial["b"] or not trial["a"] or max(trial["b"]) >= min(trial["a"]):
            bids, asks = [(best_b, 2.0)], []  # as Bybit does: never crossed, never an empty side
        assert book.apply(BookUpdate("orderbook.50.X", "X", depth, False, u, u, u, bids, asks)) is Applied.DELTA, u
        _model_apply(model, bids, asks, depth)
        want_b = sorted(model["b"].items(), reverse=True)
        want_a = sorted(model["a"].items())
        assert book.best_bid == want_b[0] and book.best_ask == want_a[0]  # always exact, read or not
        if quiet:
            quiet -= 1
            continue
        r = rng.random()
        if r < 0.05:
            quiet = rng.randint(10, 80)  # a long run nobody reads (past the notes the book keeps)
        elif r < 0.4:
            assert book.bids() == want_b and book.asks() == want_a and len(book) == len(want_b) + len(want_a)
        elif r < 0.6:
            n = rng.randint(0, 4)
            assert book.bids(n) == want_b[:n] and book.asks(n) == want_a[:n]
        elif r < 0.7:
            view = book.view()
            views.append((view, want_b, want_a))
    assert len(views) > 20
    for view, b, a in views:
        assert (view.bids(), view.asks()) == (b, a)  # type: ignore[attr-defined]
        assert view.best_bid == b[0] and view.best_ask == a[0]  # type: ignore[attr-defined]


def test_a_book_nobody_reads_keeps_a_bounded_note_of_price_changes() -> None:
    """Order is kept lazily; a book whose levels are never read must not hoard the deltas it
    noted for that (memory stays flat however long it runs), and still reads right afterwards."""
    from rxbybit.protocol import BookUpdate, OrderBook
    from rxbybit.protocol.book import _LOG_MAX

    book = OrderBook("X", 50)
    book.apply(BookUpdate("orderbook.50.X", "X", 50, True, 1, 10, 1, [(100.0, 1.0)], [(200.0, 1.0)]))
    for u in range(11, 2011):  # every delta adds a bid and removes the one before: the prices change each time
        p = 100.0 - (u - 10) * 0.5
        bids = [(p, 1.0), (p + 0.5, 0.0)] if u > 11 else [(p, 1.0)]
        assert book.apply(BookUpdate("orderbook.50.X", "X", 50, False, u, u, u, bids, [])) is Applied.DELTA
        assert book._bid_log is None or len(book._bid_log) <= _LOG_MAX
    assert book.bids() == [(100.0, 1.0), (100.0 - 2000 * 0.5, 1.0)] and book.best_bid == (100.0, 1.0)
