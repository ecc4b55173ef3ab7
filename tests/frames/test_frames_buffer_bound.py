"""A LiveFrame buffers few rows as Python objects: a hundred idle tapes must not hold thousands each."""

from __future__ import annotations

from rxbybit.frames import LiveFrame
from rxbybit.frames.live import CHUNK
from rxbybit.protocol.events import Trade

T0 = 1_700_000_000_000


def test_rows_waiting_for_the_ring_never_outnumber_max_rows_or_the_chunk() -> None:
    for max_rows in (10, CHUNK, 10 * CHUNK):
        f = LiveFrame(max_rows=max_rows)
        most = 0
        for i in range(3 * CHUNK + 7):
            f.append(Trade(T0 + i, "BTCUSDT", "Buy", 100.0 + i % 5, 0.01, str(i)))
            most = max(most, len(f._pending))
        assert most == min(CHUNK, max_rows) - 1  # filled up to the bound, then moved into the ring
        assert len(f) == min(max_rows, 3 * CHUNK + 7)
        assert f.df["price"].iloc[-1] == 100.0 + (3 * CHUNK + 6) % 5  # nothing lost on the way
