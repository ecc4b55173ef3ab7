"""What a benchmark script hands to ``bench/run_all.py``: one JSON line per measured ratio.

Each script keeps printing its own detailed output; with ``--results FILE`` it also appends
its headline ratios to FILE, which ``run_all.py`` turns into one table. A row says what was
compared with what, the ratio measured side by side in the same run, and the issue's target.
"""

from __future__ import annotations

import json
from typing import Any


def add_results_arg(parser: Any) -> None:
    """Add ``--results FILE`` to an ``argparse`` parser."""
    parser.add_argument("--results", default=None, help="append headline ratios as JSON lines to this file")


def record(
    path: str | None,
    bench: str,
    what: str,
    value: float,
    unit: str,
    *,
    target: float | None = None,
    higher_is_better: bool = True,
    note: str = "",
) -> None:
    """Append one row (nothing when ``path`` is None). ``met`` compares ``value`` with ``target``."""
    if path is None:
        return
    met: bool | None = None
    if target is not None:
        met = value >= target if higher_is_better else value <= target
    row = {"bench": bench, "what": what, "value": value, "unit": unit, "target": target,
           "higher_is_better": higher_is_better, "met": met, "note": note}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
