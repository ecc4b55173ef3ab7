"""Order statuses as Bybit names them, and which of them are final or still open."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class OrderStatus(StrEnum):
    """The V5 ``orderStatus`` enum. Members compare equal to Bybit's strings (``"Filled"``)."""

    NEW = "New"
    PARTIALLY_FILLED = "PartiallyFilled"
    UNTRIGGERED = "Untriggered"
    REJECTED = "Rejected"
    PARTIALLY_FILLED_CANCELED = "PartiallyFilledCanceled"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    TRIGGERED = "Triggered"
    DEACTIVATED = "Deactivated"

    @property
    def is_final(self) -> bool:
        """True when the order can change no more (filled, cancelled, rejected, deactivated)."""
        return self in FINAL_STATUSES

    @property
    def is_active(self) -> bool:
        """True while the order rests on the book or waits for its trigger."""
        return self in ACTIVE_STATUSES


FINAL_STATUSES: Final[frozenset[OrderStatus]] = frozenset((
    OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED,
    OrderStatus.PARTIALLY_FILLED_CANCELED, OrderStatus.DEACTIVATED,
))
"""Statuses after which an order is no longer open."""

ACTIVE_STATUSES: Final[frozenset[OrderStatus]] = frozenset((
    OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNTRIGGERED, OrderStatus.TRIGGERED,
))
"""Statuses of an open order (resting, or a conditional order not yet filled)."""

V3_STATUS: Final[dict[str, str]] = {
    OrderStatus.NEW: "NEW",
    OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELLED: "CANCELED",
    OrderStatus.PARTIALLY_FILLED_CANCELED: "PARTIALLY_FILLED_CANCELLED",
    OrderStatus.REJECTED: "REJECTED",
}
"""How the legacy spot v3 private ``order`` push spells each status."""


def is_final(status: str) -> bool:
    """True when ``status`` (Bybit's text) is final; unknown texts are not."""
    return status in FINAL_STATUSES
