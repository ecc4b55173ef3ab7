"""The exchange's clock: epoch milliseconds, as every Bybit timestamp is written."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds."""
    return time.time_ns() // 1_000_000
