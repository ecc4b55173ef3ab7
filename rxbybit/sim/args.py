"""Reading the loosely typed arguments of client requests (JSON gives any shape)."""

from __future__ import annotations

from typing import Any


def topic_args(args: Any) -> list[str] | None:
    """``args`` if it is a non-empty list of topic strings, else None."""
    if isinstance(args, list) and args and all(isinstance(a, str) for a in args):
        return args
    return None


def as_int(value: Any) -> int | None:
    """An integer given as a number or a string of digits (ms timestamps, windows), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
