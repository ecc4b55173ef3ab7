"""A time window into a recording, for replay: ``start <= receive time < end``, books exact from the start.

Topics sent as a snapshot then deltas (order books; linear and inverse tickers) cannot start at a
delta: the client would have nothing to apply it to. So when a topic's first frame in the window
is a delta, its replay begins with a **lead-in**: its last snapshot received before ``start`` with
every delta of it up to ``start`` applied, sent as one snapshot frame when the playback begins
(timed at the window's first frame). For a book the folding is done by the client's own
:class:`~rxbybit.protocol.book.OrderBook` (same depth cap, same rules), and the snapshot carries the
last ``u``/``seq``/``ts``/``cts`` before ``start``: the first book the client shows is the recorded
book at that ``u``, and every book after it is the recorded book at its ``u``. Numbers in a folded
book are written back as the shortest text of the same float (``"67249.10"`` may come back as
``"67249.1"``); a ticker's fields are merged as the recorded text. A topic with no snapshot before
``start`` (the recording began with deltas), or with a gap in ``u`` before it, starts at its first
snapshot in the window instead; its deltas before that are left out. Topics whose frames are all
snapshots (trades, candles, spot tickers) are cut at ``start`` exactly.

Folding keeps the start of a window cheap for the client (one frame instead of every delta since
the snapshot, which may be hours of them), while reading the lead-in still costs time in
proportion to the distance from the last snapshot.

Used by :func:`rxbybit.replay` for JSONL recordings (in memory) and by
:meth:`rxbybit.recordings.Dataset.replay_records` for datasets (DuckDB does the filtering).
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pandas as pd

from ..protocol.book import OrderBook
from ..protocol.decode import decode
from ..protocol.events import BookUpdate
from ..protocol.json_codec import JSONDecodeError, dumps, loads
from ..sim.replay import Recorded

Key = tuple[str, str]
"""A recorded stream: ``(socket path, topic)``."""


def frame_type(record: Recorded) -> str | None:
    """The frame's ``type`` (``"snapshot"``, ``"delta"``), or None when it has none."""
    with contextlib.suppress(JSONDecodeError):
        msg = loads(record.frame)
        if isinstance(msg, dict) and isinstance(msg.get("type"), str):
            return str(msg["type"])
    return None


def needs_lead_in(inside: Sequence[Recorded]) -> list[Key]:
    """The streams whose first frame in the window is a delta (they need a lead-in), in window order."""
    first: dict[Key, Recorded] = {}
    for r in inside:
        if r.topic is not None:
            first.setdefault((r.path, r.topic), r)
    return [k for k, r in first.items() if frame_type(r) == "delta"]


def assemble(inside: Sequence[Recorded], lead_ins: Mapping[Key, Sequence[Recorded]]) -> list[Recorded]:
    """The frames to replay: each lead-in folded into one snapshot (:func:`fold`) and timed at the
    window's first frame, then the window's frames. A stream in :func:`needs_lead_in` without a
    usable lead-in loses its deltas up to its first snapshot in the window."""
    if not inside:
        return []
    t0 = inside[0].t
    folded = {k: fold(rs) for k, rs in lead_ins.items() if rs}
    out = [dataclasses.replace(r, t=t0) for r in sorted((r for r in folded.values() if r is not None),
                                                          key=lambda r: r.t)]
    starving = {k for k in needs_lead_in(inside) if folded.get(k) is None}
    for r in inside:
        if starving and r.topic is not None and (key := (r.path, r.topic)) in starving:
            if frame_type(r) != "snapshot":
                continue
            starving.discard(key)
        out.append(r)
    return out


def fold(lead_in: Sequence[Recorded]) -> Recorded | None:
    """A snapshot and the deltas after it as one snapshot frame (at the last frame's time), or None
    when they do not make one (not starting at a snapshot, a gap in ``u``, an unreadable frame)."""
    if not lead_in or frame_type(lead_in[0]) != "snapshot":
        return None
    last = lead_in[-1]
    if len(lead_in) == 1:
        return last  # the snapshot itself, as recorded
    is_book = (last.topic or "").startswith("orderbook.")
    try:
        msgs = [loads(last.frame)] if is_book else [loads(r.frame) for r in lead_in]
    except JSONDecodeError:
        return None
    if not all(isinstance(m, dict) and isinstance(m.get("data"), dict) for m in msgs):
        return None
    if is_book:
        frame = _fold_book(lead_in, msgs[-1])
    else:  # a ticker: later fields over earlier ones, as recorded text
        data: dict[str, Any] = {}
        for m in msgs:
            data.update(m["data"])
        frame = {**msgs[-1], "type": "snapshot", "data": data}
    return None if frame is None else Recorded(last.t, last.path, dumps(frame), last.topic)


def _fold_book(lead_in: Sequence[Recorded], last: dict[str, Any]) -> dict[str, Any] | None:
    book: OrderBook | None = None
    for r in lead_in:
        try:
            update = decode(r.frame)
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(update, BookUpdate):
            return None
        book = book or OrderBook(update.symbol, update.depth)
        book.apply(update)
    if book is None or not book.synced:
        return None  # a gap in u: the client would resync; start at the window's next snapshot instead
    data = {**last["data"], "b": [[_text(p), _text(q)] for p, q in book.bids()],
            "a": [[_text(p), _text(q)] for p, q in book.asks()], "u": book.u, "seq": book.seq}
    return {**last, "type": "snapshot", "data": data}


def _text(x: float) -> str:
    """The shortest plain decimal text that reads back as the same float (no exponent)."""
    return format(Decimal(repr(x)), "f")


def lead_ins_in_memory(before: Sequence[Recorded], keys: Sequence[Key]) -> dict[Key, list[Recorded]]:
    """For each stream, its frames from its last snapshot in ``before`` to the end of ``before``."""
    need = set(keys)
    found: dict[Key, list[Recorded]] = {k: [] for k in keys}
    for r in reversed(before):
        if not need:
            break
        if r.topic is None or (key := (r.path, r.topic)) not in need:
            continue
        found[key].append(r)
        if '"snapshot"' in r.frame and frame_type(r) == "snapshot":  # the text test skips parsing deltas
            need.discard(key)
    return {k: rs[::-1] for k, rs in found.items() if k not in need}


def window(records: Sequence[Recorded], start: pd.Timestamp | None, end: pd.Timestamp | None,
           where: str = "the recording") -> list[Recorded]:
    """The frames of a recording (sorted by receive time) to replay for ``start <= t < end``.

    Raises:
        ValueError: the window holds no frame (naming the window and the recording's span).
    """
    if start is None and end is None:
        return list(records)
    times = [r.t for r in records]
    micros = [micros_of(t) for t in times]  # compared in whole microseconds, as a dataset stores them
    i0 = 0 if start is None else bisect.bisect_left(micros, _micros(start))
    i1 = len(records) if end is None else bisect.bisect_left(micros, _micros(end))
    inside = list(records[i0:max(i0, i1)])
    if not inside:
        first = pd.Timestamp(times[0], unit="s", tz="UTC") if times else None
        last = pd.Timestamp(times[-1], unit="s", tz="UTC") if times else None
        raise empty_window(start, end, first, last, len(records), where)
    keys = needs_lead_in(inside) if i0 > 0 else []
    return assemble(inside, lead_ins_in_memory(records[:i0], keys) if keys else {})


def micros_of(t: float) -> int:
    """Epoch microseconds of a receive time in float epoch seconds, rounded half to even as
    ``datetime.fromtimestamp`` rounds it, so a bound made from a frame's own time selects that frame.

    ``round(t * 1e6)`` is not that: the product rounds at about 0.25 us, which moved one frame in
    eight to the neighbouring microsecond. The fractional second alone is exact, and so nearly is its
    product with 1e6.
    """
    whole = math.floor(t)
    return whole * 1_000_000 + round((t - whole) * 1e6)


def _micros(ts: pd.Timestamp) -> int:
    """Epoch microseconds of a UTC timestamp, rounded half to even in integers (nanoseconds are exact)."""
    q, r = divmod(int(ts.value), 1000)
    return q + (1 if r > 500 or (r == 500 and q % 2) else 0)


def empty_window(start: pd.Timestamp | None, end: pd.Timestamp | None, first: pd.Timestamp | None,
                 last: pd.Timestamp | None, frames: int, where: str = "the recording") -> ValueError:
    """The error for a window with no frame in it: the window and what the recording holds."""
    lo = "its beginning" if start is None else start.isoformat()
    hi = "its end" if end is None else end.isoformat()
    if first is None or last is None or not frames:
        held = f"{where} holds no frames"
    else:
        held = f"{where} spans {first.isoformat()} to {last.isoformat()} ({frames} frames)"
    return ValueError(f"no recorded frames from start={lo} to end={hi} (receive time, start <= t < end): {held}")


__all__ = ["Key", "assemble", "empty_window", "fold", "frame_type", "lead_ins_in_memory", "needs_lead_in",
           "window"]
