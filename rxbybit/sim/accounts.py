"""The paper-trading data model: accounts, orders, positions, the events they produce, and refusals.

Plain data only (no matching, no I/O): the engine changes these, the ledger values them, and
:mod:`.pushes` shapes them into Bybit's private pushes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, NamedTuple

from ..protocol.orders import OrderStatus
from .instruments import Instrument
from .market import Fill
from .orderbook import Resting, Side

DEMO_API_KEY: Final = "SIMdemoKEYrxbybit1"
"""API key of the simulator's ready paper-trading account (simulated money only)."""
DEMO_API_SECRET: Final = "SIMdemoSECRETrxbybitPAPERtrading0000"
"""API secret of the demo account. Public on purpose: it only works against the simulator."""


class OrderError(Exception):
    """A request the exchange refuses: Bybit's ``retCode`` and ``retMsg``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(eq=False)
class Position:
    """A one-way (``positionIdx`` 0) derivatives position; ``size`` is signed in base units."""

    inst: Instrument
    size: Decimal = Decimal(0)
    entry: Decimal = Decimal(0)
    realised: Decimal = Decimal(0)
    cum_realised: Decimal = Decimal(0)
    created: int = 0
    updated: int = 0
    seq: int = 0


@dataclass(eq=False)
class Account:
    """A paper account reached through one API key."""

    uid: int
    api_key: str
    api_secret: str = field(repr=False)
    wallet: dict[str, Decimal] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    """Active orders by orderId."""
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)
    realised: dict[str, Decimal] = field(default_factory=dict)
    closed_orders: deque[Order] = field(default_factory=lambda: deque(maxlen=500))
    """Recently ended orders, oldest first (REST ``/v5/order/realtime`` finds them by id)."""
    executions: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10_000))
    """Recent ``execution`` rows, oldest first (REST ``/v5/execution/list``)."""


@dataclass(eq=False)
class Order:
    """One order and its fill state."""

    account: Account
    inst: Instrument
    order_id: str
    link_id: str
    side: Side
    order_type: str
    tif: str
    price: int
    qty: int
    created: int
    reduce_only: bool = False
    market_unit: str = ""
    leaves: int = 0
    cum_qty: int = 0
    cum_value: Decimal = Decimal(0)
    cum_fee: Decimal = Decimal(0)
    status: OrderStatus = OrderStatus.NEW
    cancel_type: str = "UNKNOWN"
    reject_reason: str = "EC_NoError"
    updated: int = 0
    resting: Resting | None = None
    fee_coin: str = ""
    protection_price: int = 0
    """A market order's slippage-protection price (what its pushes show as ``price``), else 0."""

    @property
    def active(self) -> bool:
        """True while the order can still fill."""
        return self.status.is_active


class Balance(NamedTuple):
    """One coin of a wallet as the ``wallet`` push shows it: amounts and the coin's USD price."""

    coin: str
    balance: Decimal
    locked: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class Event:
    """A private update for one account: ``family`` is order/execution/execution.fast/position/wallet/greeks."""

    account: Account
    family: str
    category: str
    row: dict[str, Any]
    fill: tuple[Order, Fill, bool] | None = None
    """For executions: the order, the fill and whether the account was the maker."""
    order: Order | None = None
    """For order events: the order itself."""
