"""The paper accounts' money: balances, margin, positions and fees, valued at the simulated books' mids.

The :class:`~.engine.Engine` decides what trades; the ledger books what a trade costs, pays or
ties up. Amounts are ``Decimal``; prices and sizes come from the market's integer units.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Final

from ..protocol import replies
from ..protocol.endpoints import Category
from ..protocol.replies import RetCode
from .accounts import Account, Balance, Order, OrderError, Position
from .instruments import Instrument
from .market import Fill, Market

FEES: Final[dict[str, tuple[Decimal, Decimal]]] = {
    "spot": (Decimal("0.001"), Decimal("0.001")),
    "linear": (Decimal("0.00055"), Decimal("0.0002")),
    "inverse": (Decimal("0.00055"), Decimal("0.0002")),
    "option": (Decimal("0.0003"), Decimal("0.0003")),
}
"""(taker, maker) fee rates by category (Bybit's non-VIP rates)."""
LEVERAGE: Final = Decimal(10)
STABLECOINS: Final = ("USDT", "USDC", "USD")
"""Coins valued at one dollar."""


class Ledger:
    """Balances, margin and positions of the paper accounts, and the sequence numbers of their changes."""

    def __init__(self, markets: Mapping[Category, Mapping[str, Market]], clock: Callable[[], int]) -> None:
        self.markets = markets
        self.clock = clock
        self._seq = itertools.count(140_612_148_849_382)

    def next_seq(self) -> int:
        """The next sequence number of an execution or position change (one counter for both)."""
        return next(self._seq)

    # ------------------------------------------------------------------ prices

    def mark(self, inst: Instrument) -> Decimal:
        """Mark price of an instrument: its book's mid."""
        m = self.markets[inst.category][inst.symbol]
        return Decimal(inst.px(m.mid() or m.stats.last_price))

    def coin_price(self, coin: str) -> Decimal:
        """USD value of one coin (stablecoins at 1, others at their linear mid)."""
        if coin in STABLECOINS:
            return Decimal(1)
        for m in self.markets["linear"].values():
            if m.inst.base == coin:
                return self.mark(m.inst)
        return Decimal(0)

    # ------------------------------------------------------------------ money held

    def order_cost(self, o: Order, qty: int | None = None) -> tuple[str, Decimal]:
        """(coin, amount) an open order ties up for its ``qty`` (default: leaves)."""
        inst = o.inst
        q = Decimal(inst.qty(o.leaves if qty is None else qty))
        price = Decimal(inst.px(o.price)) if o.price else self.mark(inst)
        if inst.category == "spot":
            return (inst.quote, q * price) if o.side == "Buy" else (inst.base, q)
        if inst.inverse:
            return inst.settle, q / price / LEVERAGE
        return inst.settle, q * price / LEVERAGE

    def locked(self, acct: Account, coin: str) -> Decimal:
        """Amount of ``coin`` held by open orders and position margin."""
        total = Decimal(0)
        for o in acct.orders.values():
            c, amount = self.order_cost(o)
            if c == coin:
                total += amount
        for pos in acct.positions.values():
            if pos.inst.settle == coin and pos.size:
                total += self._position_im(pos)
        return total

    @staticmethod
    def _position_im(pos: Position) -> Decimal:
        if pos.inst.inverse:
            return abs(pos.size) / pos.entry / LEVERAGE if pos.entry else Decimal(0)
        return abs(pos.size) * pos.entry / LEVERAGE

    def available(self, acct: Account, coin: str) -> Decimal:
        """Balance of ``coin`` not tied up by orders or positions."""
        return acct.wallet.get(coin, Decimal(0)) - self.locked(acct, coin)

    def balances(self, acct: Account) -> list[Balance]:
        """Every coin of the account, by name, with what is locked and its USD price."""
        return [Balance(coin, balance, self.locked(acct, coin), self.coin_price(coin))
                for coin, balance in sorted(acct.wallet.items())]

    def check_funds(self, acct: Account, o: Order) -> None:
        """Raise ``110007`` unless the account can pay for ``o`` (margin plus the taker fee)."""
        inst = o.inst
        coin, need = self.order_cost(o)
        if inst.category != "spot":
            pos = acct.positions.get((inst.category, inst.symbol))
            if pos is not None and pos.size and (pos.size > 0) != (o.side == "Buy"):
                closing = min(Decimal(inst.qty(o.qty)), abs(pos.size))
                need = need * (1 - closing / Decimal(inst.qty(o.qty)))
            need += need * LEVERAGE * FEES[inst.category][0]
        if need > self.available(acct, coin):
            raise OrderError(RetCode.INSUFFICIENT_BALANCE, replies.insufficient_balance(
                f"needs {need:.8f} {coin}, available {self.available(acct, coin):.8f}"))

    # ------------------------------------------------------------------ fills

    def settle(self, o: Order, f: Fill, *, maker: bool) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
        """Book one fill of ``o`` in its account; returns ``(value, fee, fee rate, pnl, closed size)``."""
        inst, acct = o.inst, o.account
        qty = Decimal(inst.qty(f.qty))
        price = Decimal(inst.px(f.price))
        value = qty / price if inst.inverse else qty * price
        rate = FEES[inst.category][1 if maker else 0]
        w = acct.wallet
        pnl = Decimal(0)
        closed = Decimal(0)
        if inst.category == "spot":
            if o.side == "Buy":
                fee = qty * rate
                o.fee_coin = inst.base
                w[inst.base] = w.get(inst.base, Decimal(0)) + qty - fee
                w[inst.quote] = w.get(inst.quote, Decimal(0)) - value
            else:
                fee = value * rate
                o.fee_coin = inst.quote
                w[inst.base] = w.get(inst.base, Decimal(0)) - qty
                w[inst.quote] = w.get(inst.quote, Decimal(0)) + value - fee
        else:
            fee = value * rate
            o.fee_coin = inst.settle
            pnl, closed = self._update_position(acct, inst, qty if o.side == "Buy" else -qty, price)
            w[inst.settle] = w.get(inst.settle, Decimal(0)) + pnl - fee
        return value, fee, rate, pnl, closed

    def _update_position(self, acct: Account, inst: Instrument, q: Decimal, price: Decimal) -> tuple[Decimal, Decimal]:
        key = (inst.category, inst.symbol)
        pos = acct.positions.get(key)
        now = self.clock()
        if pos is None:
            pos = acct.positions[key] = Position(inst, created=now)
        pnl = Decimal(0)
        closed = Decimal(0)
        if pos.size == 0 or (pos.size > 0) == (q > 0):
            new = pos.size + q
            pos.entry = (pos.entry * abs(pos.size) + price * abs(q)) / abs(new)
            pos.size = new
        else:
            closed = min(abs(q), abs(pos.size))
            direction = 1 if pos.size > 0 else -1
            if inst.inverse:
                pnl = closed * (1 / pos.entry - 1 / price) * direction
            else:
                pnl = closed * (price - pos.entry) * direction
            pos.size += q
            if pos.size == 0:
                pos.entry = Decimal(0)
            elif (pos.size > 0) == (q > 0):
                pos.entry = price
        pos.realised += pnl
        pos.cum_realised += pnl
        pos.updated = now
        pos.seq = self.next_seq()
        return pnl, closed
