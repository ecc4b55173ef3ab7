"""The JSON codec every layer uses for wire frames: orjson, returning ``str`` for text frames."""

from __future__ import annotations

from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError


def loads(data: str | bytes | bytearray | memoryview) -> Any:
    """Parse one JSON document."""
    return orjson.loads(data)


def dumps(obj: Any) -> str:
    """Serialise ``obj`` to compact JSON text (what a websocket text frame carries)."""
    return orjson.dumps(obj).decode()
