"""The guard against integers the JSON codec cannot carry exactly (the codec is protocol's).

orjson reads an integer outside ``-2**63 .. 2**64-1`` as a float, so ``18446744073709551616`` in a
request would silently become ``1.8446744073709552e+19``. :func:`wide_integers` finds such integers,
and where they stand, in a document orjson has already accepted; the request parser refuses the
request naming them. Upstream Bybit frames are not re-encoded by the gateway (it forwards them as
received and reads only their ``topic``), so only requests need the guard.
"""

from __future__ import annotations

import re
from typing import Final

from ..protocol.json_codec import JSONDecodeError, loads

INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**64 - 1
"""The integers orjson parses as integers; beyond them it parses a float."""

Location = tuple[str | int, ...]
"""Where a value stands in a document: object keys and array indexes from the top."""

_LONG_DIGITS: Final = re.compile(rb"[0-9]{19}")  # 2**63 has 19 digits: any shorter integer fits
_TOKENS: Final = re.compile(rb'"(?:[^"\\]|\\.)*"|-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|[{}\[\],]')


def wide_integers(doc: str | bytes | bytearray | memoryview) -> list[tuple[Location, str]]:
    """``(location, literal)`` of each integer in ``doc`` that :func:`loads` would turn into a float.

    The scan is iterative (any nesting depth) and skipped at once when no run of 19 digits occurs.
    Locations are exact for valid JSON; on anything else the scan still ends without raising.
    """
    raw = doc.encode("utf-8", "surrogatepass") if isinstance(doc, str) else bytes(doc)
    if _LONG_DIGITS.search(raw) is None:
        return []
    found: list[tuple[Location, str]] = []
    where: list[str | int] = []  # the location of the value being read
    in_object: list[bool] = []  # per open container
    expect_key = False
    for match in _TOKENS.finditer(raw):
        token = match.group()
        first = token[:1]
        if first in (b"{", b"["):
            in_object.append(first == b"{")
            where.append("" if first == b"{" else 0)
            expect_key = first == b"{"
        elif first in (b"}", b"]"):
            if in_object:
                in_object.pop()
                where.pop()
            expect_key = False
        elif first == b",":
            if in_object:
                expect_key = in_object[-1]
                last = where[-1]
                if isinstance(last, int):
                    where[-1] = last + 1
        elif first == b'"':
            if expect_key:
                where[-1] = _key(token)
                expect_key = False
        elif _is_wide(token):
            found.append((tuple(where), token.decode()))
    return found


def _key(token: bytes) -> str:
    try:
        key = loads(token)
    except JSONDecodeError:
        return token.decode("utf-8", "replace")
    return key if isinstance(key, str) else str(key)


def _is_wide(number: bytes) -> bool:
    """True for an integer literal outside ``INT_MIN .. INT_MAX`` (fractions and exponents are floats)."""
    if b"." in number or b"e" in number or b"E" in number:
        return False
    if len(number.lstrip(b"-")) > 20:  # JSON has no leading zeros; int() would refuse a huge literal
        return True
    return not INT_MIN <= int(number) <= INT_MAX


def describe(location: Location) -> str:
    """``("payload", "args", 0)`` as ``payload.args[0]`` (other keys quoted)."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.isidentifier() and len(part) <= 40:
            text += f".{part}" if text else part
        else:
            text += f"[{_short(part)}]"
    return text or "the document"


def _short(key: str) -> str:
    text = repr(key)
    return text if len(text) <= 40 else text[:37] + "..."
