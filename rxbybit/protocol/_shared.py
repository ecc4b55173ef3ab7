"""Copy-on-write by reference count: how the book and the ticker state hand out immutable views
without copying their storage on every update.

A holder keeps its storage (a dict or list) in a slot and hands it to immutable views. Before it
changes the storage it asks whether anything else still holds it; only then is it copied. The
reference count of a slot value nothing else holds is measured once here, read the way the
holders read it (an interpreter that counts stack references differently still gets it right).
"""

from __future__ import annotations

from sys import getrefcount

__all__ = ["ALONE", "getrefcount"]


class _Probe:
    __slots__ = ("held",)

    held: dict[float, float]


def _alone_count() -> int:
    probe = _Probe()
    probe.held = {}
    return getrefcount(probe.held)


ALONE = _alone_count()
"""``getrefcount(self.slot)`` of a value only that slot holds: more means a view shares it."""
