"""Private pushes turned into ``/user/profile`` and ``/user/notifications`` events (pure functions).

Values stay exact strings, as Bybit sent them: they are account values, not market data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..protocol.clock import now_ms
from ..protocol.orders import OrderStatus

PROFILE_FIELDS: Final[tuple[str, ...]] = (
    "accountType", "totalEquity", "totalWalletBalance", "totalMarginBalance", "totalAvailableBalance",
    "totalPerpUPL", "totalInitialMargin", "totalMaintenanceMargin",
)
COIN_FIELDS: Final[tuple[str, ...]] = ("coin", "equity", "walletBalance", "usdValue", "unrealisedPnl", "locked")

ORDER_TITLES: Final[dict[str, str]] = {
    OrderStatus.NEW: "Order placed",
    OrderStatus.PARTIALLY_FILLED: "Order partially filled",
    OrderStatus.FILLED: "Order filled",
    OrderStatus.CANCELLED: "Order cancelled",
    OrderStatus.PARTIALLY_FILLED_CANCELED: "Order cancelled after a partial fill",
    OrderStatus.REJECTED: "Order rejected",
    OrderStatus.TRIGGERED: "Conditional order triggered",
    OrderStatus.UNTRIGGERED: "Conditional order placed",
    OrderStatus.DEACTIVATED: "Conditional order deactivated",
}
"""The notification title of each order status (every status Bybit has is announced)."""

_FILLED: Final = frozenset((OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED))


def profile_from_wallet(item: Mapping[str, Any]) -> dict[str, Any]:
    """A ``/user/profile`` event from one item of Bybit's ``wallet`` push (total balances first)."""
    out: dict[str, Any] = {k: item[k] for k in PROFILE_FIELDS if k in item}
    coins = item.get("coin")
    if isinstance(coins, list):
        out["coins"] = [{k: c[k] for k in COIN_FIELDS if k in c} for c in coins if isinstance(c, Mapping)]
    out["ts"] = now_ms()
    return out


def notification(kind: str, title: str, message: str, level: str = "info",
                 data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A ``/user/notifications`` event."""
    return {"kind": kind, "level": level, "title": title, "message": message,
            "ts": now_ms(), "data": dict(data or {})}


def notification_from_order(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """A notification for an order status change (None for a status Bybit does not document)."""
    status = str(item.get("orderStatus", ""))
    title = ORDER_TITLES.get(status)
    if title is None:
        return None
    side = item.get("side", "")
    qty = item.get("qty", "")
    symbol = item.get("symbol", "")
    price = item.get("avgPrice") if status in _FILLED and item.get("avgPrice") else \
        item.get("price", "")
    at = f" at {price}" if price not in ("", "0", None) else ""
    message = f"{side} {qty} {symbol}{at}".strip()
    rejected = status == OrderStatus.REJECTED
    if rejected and item.get("rejectReason"):
        message += f" ({item['rejectReason']})"
    level = "warning" if rejected else "info"
    keep = ("category", "symbol", "orderId", "orderLinkId", "side", "orderType", "qty", "price", "avgPrice",
            "cumExecQty", "orderStatus", "updatedTime")
    return notification("order", title, message, level, {k: item[k] for k in keep if k in item})


def notification_from_execution(item: Mapping[str, Any]) -> dict[str, Any]:
    """A notification for one fill."""
    message = f"{item.get('side', '')} {item.get('execQty', '')} {item.get('symbol', '')} at " \
              f"{item.get('execPrice', '')}"
    keep = ("category", "symbol", "orderId", "orderLinkId", "execId", "side", "execQty", "execPrice", "execFee",
            "execType", "isMaker", "execTime")
    return notification("execution", "Fill", message.strip(), "info", {k: item[k] for k in keep if k in item})
