"""Numbers as a trading screen shows them: decimals from a tick size, aligned columns, no float noise.

A price column shows as many decimals as the instrument's tick size has (``0.00001`` -> 5), so
every row lines up and DOGEUSDT does not read ``0.15`` on every level. The tick size can come from
anywhere (the exchange's instrument info, a constant, a guess from the prices seen):
:func:`decimals_of` turns any of them into places, and :func:`places_for` guesses from values when
nothing better is known.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_PLACES = 8
"""Most decimals ever shown (Bybit's finest tick and lot sizes)."""


def decimals_of(step: float | str | Decimal | int | None) -> int | None:
    """Decimal places of a tick or lot size (``"0.01"`` -> 2, ``0.5`` -> 1, ``"1"`` -> 0, a ``Decimal``
    such as an instrument's ``tick_size``); None for None.

    Raises:
        ValueError: ``step`` is not a positive number.
    """
    if step is None:
        return None
    try:
        d = Decimal(str(step)).normalize()
    except InvalidOperation:
        raise ValueError(f"a tick size must be a number, got {step!r}") from None
    if not d.is_finite() or d <= 0:
        raise ValueError(f"a tick size must be positive, got {step!r}")
    exp = d.as_tuple().exponent
    return min(MAX_PLACES, max(0, -int(exp)))


def places_for(values: Iterable[float]) -> int:
    """Decimals needed to show every value exactly (at most :data:`MAX_PLACES`), so a column lines up."""
    most = 0
    for v in values:
        if not math.isfinite(v):
            continue
        text = f"{v:.{MAX_PLACES}f}".rstrip("0")
        most = max(most, len(text) - text.index(".") - 1)
    return most


def tidy(x: float | None, places: int = 9) -> float | None:
    """``x`` rounded to ``places`` decimals: ``67248.95000000001`` -> ``67248.95`` (a mid of two
    8-decimal prices has at most 9, so nothing real is lost)."""
    if x is None or not math.isfinite(x):
        return x
    return round(float(x), places)


def fmt_number(x: object, places: int | None = None, *, thousands: bool = True) -> str:
    """One number as text: fixed ``places`` when given, else up to 8 significant digits; blank for
    None/NaN; other values as ``str``."""
    if x is None:
        return ""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    if isinstance(x, float) and math.isnan(x):
        return ""
    sep = "," if thousands else ""
    if places is None:
        return f"{x:{sep}.8g}" if isinstance(x, float) else f"{x:{sep}d}"
    return f"{x:{sep}.{places}f}"


def column_formatters(columns: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """``to_html``/``to_string`` formatters for ``(name, values)`` pairs: each float column with the
    fewest decimals that show all its values exactly, so the column lines up (``1.0`` and ``99999.26``
    both get two decimals)."""
    out: dict[str, Any] = {}
    for name, values in columns:
        if getattr(getattr(values, "dtype", None), "kind", "") != "f":
            continue
        places = places_for(float(v) for v in values)
        out[name] = lambda v, p=places: fmt_number(v, p)
    return out
