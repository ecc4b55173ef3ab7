"""Instruments from REST, cached per category, and the order checks against them.

``await bybit.instruments("linear")`` reads ``/v5/market/instruments-info`` (every page) once per
category and client and keeps the typed rows (:class:`~rxbybit.protocol.instruments.InstrumentInfo`);
``refresh=True`` reads again. :func:`checked_order` is the check the trade client can run before
sending: it validates (or rounds) an order's price and qty against the instrument's tick and lot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal

from ..errors import OrderValidationError
from ..protocol.instruments import InstrumentInfo, check_order, parse_instrument, round_order
from ..rest import RestClient

CheckMode = Literal["validate", "round"]
"""``validate``: refuse an order whose price or qty breaks the rules; ``round``: round the price to
the nearest tick and the qty down to the lot first, then validate."""


class InstrumentCache:
    """Typed instruments by category, read once from REST (concurrent readers share one read)."""

    def __init__(self, rest: Callable[[], RestClient]) -> None:
        self._rest = rest
        self._cache: dict[str, Mapping[str, InstrumentInfo]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def cached(self, category: str) -> Mapping[str, InstrumentInfo] | None:
        """The instruments of ``category`` if they were read already (no I/O)."""
        return self._cache.get(category)

    async def get(self, category: str, *, refresh: bool = False) -> Mapping[str, InstrumentInfo]:
        """Every instrument of ``category`` by symbol (read-only mapping)."""
        if category not in ("spot", "linear", "inverse", "option"):
            raise ValueError(f"category must be spot, linear, inverse or option, got {category!r}")
        lock = self._locks.setdefault(category, asyncio.Lock())
        async with lock:
            if refresh or category not in self._cache:
                rows = await self._rest().instruments_info(category)
                infos = (parse_instrument(category, r) for r in rows if isinstance(r, Mapping))
                self._cache[category] = MappingProxyType({i.symbol: i for i in infos})
            return self._cache[category]


def checked_order(info: InstrumentInfo, body: Mapping[str, Any], mode: CheckMode = "validate") -> dict[str, Any]:
    """``body`` (an ``order.create``/``order.amend`` request, camelCase keys) checked against ``info``;
    with ``mode="round"`` its price and qty are rounded first. Raises
    :class:`~rxbybit.errors.OrderValidationError` naming the tick or lot size; nothing is sent then.
    A spot market buy's qty is in the quote coin (``marketUnit`` not ``baseCoin``): it is not checked
    against the lot."""
    out = dict(body)
    price = out.get("price") if out.get("orderType", "Limit") != "Market" else None
    qty = out.get("qty")
    if info.category == "spot" and out.get("orderType") == "Market" and out.get("side") == "Buy" \
            and out.get("marketUnit") != "baseCoin":
        qty = None
    if mode == "round":
        p, q = round_order(info, price=price, qty=qty)
        if p is not None:
            out["price"] = price = p
        if q is not None:
            if Decimal(q) == 0:
                raise OrderValidationError(info.symbol, "qty", str(qty), f"rounds to 0 at the lot size {info.qty_step}")
            out["qty"] = qty = q
    check_order(info, price=price, qty=qty)
    if not info.trading:
        raise OrderValidationError(info.symbol, "symbol", info.symbol, f"is not trading (status {info.status!r})")
    return out


def order_checker(instruments: InstrumentCache, mode: CheckMode = "validate"
                  ) -> Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]:
    """A trade-client hook: ``await hook(op, body)`` returns ``body`` checked (or rounded) against its
    instrument, for ``order.create`` and ``order.amend``; other ops pass unchanged."""

    async def hook(op: str, body: dict[str, Any]) -> dict[str, Any]:
        if op not in ("order.create", "order.amend"):
            return body
        category, symbol = body.get("category"), body.get("symbol")
        if not isinstance(category, str) or not isinstance(symbol, str):
            return body
        info = (await instruments.get(category)).get(symbol)
        if info is None:
            raise OrderValidationError(symbol, "symbol", symbol, f"is not a {category} instrument of this exchange")
        return checked_order(info, body, mode)

    return hook
