"""Close live objects left behind when a notebook cell is run again.

Re-running ``tape = trades.pipe(ops.to_frame())`` rebinds ``tape``, but the old frame would stay
subscribed forever. Each live object registers itself with :func:`track_cell` under the cell that made
it; when the same cell runs again (same cell id, new execution count), the objects of the earlier
run are closed. Outside IPython (or on frontends that send no cell id) nothing is tracked.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Protocol


class Closable(Protocol):
    """Anything with a ``close()``."""

    def close(self) -> None: ...


CellProvider = Callable[[], tuple[str, int] | None]
"""Returns ``(cell_id, execution_count)`` of the running cell, or None."""


def _ipython_cell() -> tuple[str, int] | None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with ipywidgets
        return None
    ip: Any = get_ipython()
    if ip is None:
        return None
    kernel = getattr(ip, "kernel", None)
    parent: Any = None
    if kernel is not None and hasattr(kernel, "get_parent"):
        try:
            parent = kernel.get_parent()
        except TypeError:
            parent = kernel.get_parent("shell")
    meta = (parent or {}).get("metadata") or {}
    cell_id = meta.get("cellId") or meta.get("cell_id")
    if not cell_id:
        return None
    return str(cell_id), int(getattr(ip, "execution_count", 0))


_provider: CellProvider = _ipython_cell
_cells: dict[str, tuple[int, list[weakref.ref[Any]]]] = {}


def set_cell_provider(provider: CellProvider | None) -> CellProvider:
    """Replace how the running cell is found (None restores IPython's); forgets what was tracked.

    Returns the provider it replaced, so a caller can put it back.
    """
    global _provider
    old = _provider
    _provider = provider or _ipython_cell
    _cells.clear()
    return old


def track_cell(obj: Closable) -> None:
    """Register ``obj`` under the running cell; close what an earlier run of that cell made."""
    cell = _provider()
    if cell is None:
        return
    cell_id, count = cell
    entry = _cells.get(cell_id)
    if entry is not None and entry[0] != count:
        for ref in entry[1]:
            old = ref()
            if old is not None:
                old.close()
        entry = None
    if entry is None:
        entry = (count, [])
        _cells[cell_id] = entry
    entry[1].append(weakref.ref(obj))
