"""Helpers to read the copied fixture frames (see fixtures/README.md for their origins)."""

from __future__ import annotations

import re
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def frame(rel: str) -> str:
    """One frame from a ``.json`` fixture."""
    return (FIXTURES / rel).read_text()


def lines(rel: str) -> list[str]:
    """The frames of a ``.jsonl`` fixture, one a line."""
    return [ln for ln in (FIXTURES / rel).read_text().splitlines() if ln.strip()]


_RECEIVED = re.compile(r"^\d+(?:\.\d+)?: (\{.*\})$")


def cryptofeed_received(rel: str) -> list[str]:
    """The frames a cryptofeed log says were received (``TIME: FRAME`` lines)."""
    out = []
    for ln in (FIXTURES / rel).read_text().splitlines():
        m = _RECEIVED.match(ln)
        if m:
            out.append(m.group(1))
    return out
