"""A time window into a recording, for replay: ``start <= receive time < end``, books exact from the start.

Topics sent as a snapshot then deltas (order books; linear and inverse tickers) cannot start at a
delta: the client would have nothing to apply it to. So when a topic's first frame in the window
is a delta, its replay begins with a **lead-in**: its last snapshot received before ``start`` and
every delta of it up to ``start``, sent at once when the playback begins (they keep their order
and are not waited for). The first book the client shows is then the recorded book at the last
``u`` before ``start``, and every book after it is the recorded book at its ``u``. A topic with no
snapshot before ``start`` (the recording began with deltas) starts at its first snapshot in the
window instead; its deltas before that are left out. Topics whose frames are all snapshots
(trades, candles, spot tickers) are cut at ``start`` exactly.

Used by :func:`rxbybit.replay` for JSONL recordings (in memory) and by
:meth:`rxbybit.recordings.Dataset.replay_records` for datasets (DuckDB does the filtering).
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
from collections.abc import Mapping, Sequence

import pandas as pd

from ..protocol.json_codec import JSONDecodeError, loads
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
    """The frames to replay: every lead-in (in recorded order, timed at the window's first frame), then
    the window's frames. A stream in :func:`needs_lead_in` without a lead-in (no snapshot before the
    window) loses its deltas up to its first snapshot in the window."""
    if not inside:
        return []
    t0 = inside[0].t
    pre = sorted((r for rs in lead_ins.values() for r in rs), key=lambda r: r.t)
    out = [dataclasses.replace(r, t=t0) for r in pre]
    starving = {k for k in needs_lead_in(inside) if not lead_ins.get(k)}
    for r in inside:
        if starving and r.topic is not None and (key := (r.path, r.topic)) in starving:
            if frame_type(r) != "snapshot":
                continue
            starving.discard(key)
        out.append(r)
    return out


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
        if frame_type(r) == "snapshot":
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
    micros = [round(t * 1e6) for t in times]  # compared in whole microseconds, as a dataset stores them
    i0 = 0 if start is None else bisect.bisect_left(micros, _micros(start))
    i1 = len(records) if end is None else bisect.bisect_left(micros, _micros(end))
    inside = list(records[i0:max(i0, i1)])
    if not inside:
        first = pd.Timestamp(times[0], unit="s", tz="UTC") if times else None
        last = pd.Timestamp(times[-1], unit="s", tz="UTC") if times else None
        raise empty_window(start, end, first, last, len(records), where)
    keys = needs_lead_in(inside) if i0 > 0 else []
    return assemble(inside, lead_ins_in_memory(records[:i0], keys) if keys else {})


def _micros(ts: pd.Timestamp) -> int:
    """Epoch microseconds of a UTC timestamp, rounded (a float epoch second carries about 0.2 us)."""
    return round(int(ts.value) / 1000)


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


__all__ = ["Key", "assemble", "empty_window", "frame_type", "lead_ins_in_memory", "needs_lead_in", "window"]
