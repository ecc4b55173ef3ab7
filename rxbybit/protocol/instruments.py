"""Instruments as ``/v5/market/instruments-info`` describes them, and the tick and lot rules of orders.

:class:`InstrumentInfo` is the typed row (exact ``Decimal`` steps and limits);
:func:`check_order` and :func:`round_order` are the rules the trade client applies before sending.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Literal

from ..errors import OrderValidationError


@dataclass(frozen=True, slots=True)
class InstrumentInfo:
    """One instrument's trading rules. Steps and limits are exact decimals.

    ``min_notional`` is ``minNotionalValue`` for contracts and ``minOrderAmt`` for spot (0 when the
    exchange gives none); ``qty_step`` is ``basePrecision`` on spot.
    """

    category: str
    symbol: str
    status: str
    base: str
    quote: str
    settle: str
    tick_size: Decimal
    qty_step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal

    @property
    def trading(self) -> bool:
        """True while the instrument trades (``status == "Trading"``)."""
        return self.status == "Trading"

    @property
    def price_decimals(self) -> int:
        """Decimals a price of this instrument is shown with (those of the tick size)."""
        return _decimals(self.tick_size)

    @property
    def qty_decimals(self) -> int:
        """Decimals a quantity is shown with (those of the lot step)."""
        return _decimals(self.qty_step)


def _decimals(step: Decimal) -> int:
    exp = step.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def _dec(value: Any, default: str = "0") -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(default)
    except InvalidOperation:
        return Decimal(default)


def parse_instrument(category: str, row: Mapping[str, Any]) -> InstrumentInfo:
    """One ``result.list`` row of instruments-info as an :class:`InstrumentInfo`; ``ValueError`` when
    the row has no symbol or no tick size."""
    symbol = row.get("symbol")
    pf: Mapping[str, Any] = row.get("priceFilter") or {}
    lf: Mapping[str, Any] = row.get("lotSizeFilter") or {}
    if not isinstance(pf, Mapping) or not isinstance(lf, Mapping):
        raise ValueError(f"instrument row with malformed filters: {dict(row)!r}")
    tick = _dec(pf.get("tickSize"))
    if not isinstance(symbol, str) or not symbol or tick <= 0:
        raise ValueError(f"instrument row without a symbol or a positive priceFilter.tickSize: {dict(row)!r}")
    step = _dec(lf.get("qtyStep") or lf.get("basePrecision"), "0")
    notional = lf.get("minNotionalValue") if lf.get("minNotionalValue") not in (None, "") else lf.get("minOrderAmt")
    return InstrumentInfo(
        category=category, symbol=symbol, status=str(row.get("status", "")), base=str(row.get("baseCoin", "")),
        quote=str(row.get("quoteCoin", "")), settle=str(row.get("settleCoin", row.get("quoteCoin", ""))),
        tick_size=tick, qty_step=step, min_qty=_dec(lf.get("minOrderQty")), max_qty=_dec(lf.get("maxOrderQty")),
        min_notional=_dec(notional),
    )


Rounding = Literal["down", "nearest"]


def round_to_step(value: Decimal, step: Decimal, mode: Rounding = "nearest") -> Decimal:
    """``value`` rounded to a multiple of ``step`` (``down`` toward zero, or ``nearest``, half to even)."""
    if step <= 0:
        return value
    units = (value / step).quantize(Decimal(1), rounding=ROUND_DOWN if mode == "down" else ROUND_HALF_EVEN)
    return (units * step).quantize(step)


def check_order(info: InstrumentInfo, *, price: Any = None, qty: Any = None) -> None:
    """Raise :class:`~rxbybit.errors.OrderValidationError` when ``price`` is not a positive multiple of
    the tick size, or ``qty`` is not a multiple of the lot step within the min/max quantity, or the
    order's value is under the minimum notional. None values are not checked."""
    p = _number(info, "price", price)
    q = _number(info, "qty", qty)
    if p is not None and p % info.tick_size:
        raise OrderValidationError(info.symbol, "price", str(price),
                                   f"is not a multiple of the tick size {info.tick_size}")
    if q is not None:
        if info.qty_step > 0 and q % info.qty_step:
            raise OrderValidationError(info.symbol, "qty", str(qty),
                                       f"is not a multiple of the lot size {info.qty_step}")
        if info.min_qty > 0 and q < info.min_qty:
            raise OrderValidationError(info.symbol, "qty", str(qty), f"is below the minimum quantity {info.min_qty}")
        if info.max_qty > 0 and q > info.max_qty:
            raise OrderValidationError(info.symbol, "qty", str(qty), f"is above the maximum quantity {info.max_qty}")
    if p is not None and q is not None and info.min_notional > 0 and info.category != "inverse" \
            and p * q < info.min_notional:
        raise OrderValidationError(info.symbol, "qty", str(qty),
                                   f"at price {price} is worth {p * q}, under the minimum notional {info.min_notional}")


def round_order(info: InstrumentInfo, *, price: Any = None, qty: Any = None) -> tuple[str | None, str | None]:
    """``(price, qty)`` as exact strings rounded to the tick (nearest) and the lot (down)."""
    p = _number(info, "price", price)
    q = _number(info, "qty", qty)
    return (None if p is None else str(round_to_step(p, info.tick_size, "nearest")),
            None if q is None else str(round_to_step(q, info.qty_step, "down")))


def _number(info: InstrumentInfo, field: str, value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, float | bool):
        raise OrderValidationError(info.symbol, field, repr(value), "must be a str or Decimal (floats are inexact)")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise OrderValidationError(info.symbol, field, repr(value), "is not a number") from None
    if not d.is_finite() or d <= 0:
        raise OrderValidationError(info.symbol, field, repr(value), "must be a positive number")
    return d
