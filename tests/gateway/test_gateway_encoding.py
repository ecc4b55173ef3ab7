"""What the gateway writes without the library's help: pre-built frames and order notifications."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from rxbybit.gateway.profile import ORDER_TITLES, notification_from_order
from rxbybit.protocol.orders import OrderStatus
from rxbybit.transport.ws_internals import text_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 70_000])
def test_a_pre_built_frame_is_byte_for_byte_what_websockets_writes(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    assert text_frame(payload) == Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])


def test_every_order_status_has_a_notification_and_unknown_ones_none() -> None:
    assert set(ORDER_TITLES) == set(OrderStatus)
    for status in OrderStatus:
        note = notification_from_order({"orderStatus": status.value, "side": "Buy", "qty": "1", "symbol": "BTCUSDT",
                                         "price": "100", "avgPrice": "101", "rejectReason": "EC_NoImmediateQtyToFill"})
        assert note is not None and note["title"] == ORDER_TITLES[status]
        assert note["level"] == ("warning" if status is OrderStatus.REJECTED else "info")
        filled = status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED)
        assert note["message"].startswith(f"Buy 1 BTCUSDT at {'101' if filled else '100'}"), note["message"]
    assert notification_from_order({"orderStatus": "Exploded"}) is None
