"""The matching engine and paper accounts: orders against the simulated books, fees, balances, positions.

Orders match against the same :class:`~.market.Market` books the public feeds publish, so a
user's taker order shows up in ``publicTrade`` and moves the book, and a resting limit order is
visible in the book and fills when synthetic flow reaches it. Every change produces
:class:`Event` records (order, execution, position, wallet, greeks) that the desk turns into
private pushes. Amounts are ``Decimal``; prices and sizes come from the market's integer units.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from ..protocol.topics import Category
from .instruments import Instrument
from .market import Fill, Market, Resting, Side
from .rows import execution_row, fast_execution_row, greeks_rows, order_row, position_row, wallet_row

FEES: Final[dict[str, tuple[Decimal, Decimal]]] = {
    "spot": (Decimal("0.001"), Decimal("0.001")),
    "linear": (Decimal("0.00055"), Decimal("0.0002")),
    "inverse": (Decimal("0.00055"), Decimal("0.0002")),
    "option": (Decimal("0.0003"), Decimal("0.0003")),
}
"""(taker, maker) fee rates by category (Bybit's non-VIP rates)."""
LEVERAGE: Final = Decimal(10)
DEMO_WALLET: Final[dict[str, Decimal]] = {
    "USDT": Decimal(100_000), "USDC": Decimal(50_000), "BTC": Decimal(1), "ETH": Decimal(10),
}
"""What a fresh paper account holds."""
MAX_ACTIVE_ORDERS: Final = 500


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
    status: str = "New"
    cancel_type: str = "UNKNOWN"
    reject_reason: str = "EC_NoError"
    updated: int = 0
    resting: Resting | None = None
    fee_coin: str = ""

    @property
    def active(self) -> bool:
        """True while the order can still fill."""
        return self.status in ("New", "PartiallyFilled", "Untriggered")


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


class Engine:
    """Accounts, orders and matching for every simulated market."""

    def __init__(self, markets: Mapping[Category, Mapping[str, Market]], clock: Callable[[], int]) -> None:
        self.markets = markets
        self.clock = clock
        self.accounts: dict[str, Account] = {}
        self.events: list[Event] = []
        self._uids = itertools.count(100_200_300)
        self._exec_seq = itertools.count(140_612_148_849_382)

    # ------------------------------------------------------------------ accounts

    def add_account(self, api_key: str, api_secret: str, wallet: Mapping[str, Decimal] | None = None) -> Account:
        """Register a paper account (funded like the demo account unless ``wallet`` is given)."""
        if not api_key or not api_secret:
            raise ValueError("an account needs a non-empty API key and secret")
        acct = Account(next(self._uids), api_key, api_secret, dict(wallet if wallet is not None else DEMO_WALLET))
        self.accounts[api_key] = acct
        return acct

    def market(self, category: Any, symbol: Any) -> Market:
        """The market of a request, or ``OrderError`` (10404 bad category, 10001 bad symbol)."""
        if category not in self.markets:
            raise OrderError(10404, f"category {category!r} is not supported; use spot, linear, inverse or option")
        market = self.markets[category].get(symbol) if isinstance(symbol, str) else None
        if market is None:
            raise OrderError(10001, f"params error: symbol {symbol!r} is not a simulated {category} symbol")
        return market

    def mark(self, inst: Instrument) -> Decimal:
        """Mark price of an instrument: its book's mid."""
        m = self.markets[inst.category][inst.symbol]
        return Decimal(inst.px(m.mid() or m.stats.last_price))

    def coin_price(self, coin: str) -> Decimal:
        """USD value of one coin (stablecoins at 1, others at their linear mid)."""
        if coin in ("USDT", "USDC", "USD"):
            return Decimal(1)
        for m in self.markets["linear"].values():
            if m.inst.base == coin:
                return self.mark(m.inst)
        return Decimal(0)

    # ------------------------------------------------------------------ money

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

    def _position_im(self, pos: Position) -> Decimal:
        if pos.inst.inverse:
            return abs(pos.size) / pos.entry / LEVERAGE if pos.entry else Decimal(0)
        return abs(pos.size) * pos.entry / LEVERAGE

    def available(self, acct: Account, coin: str) -> Decimal:
        """Balance of ``coin`` not tied up by orders or positions."""
        return acct.wallet.get(coin, Decimal(0)) - self.locked(acct, coin)

    # ------------------------------------------------------------------ requests

    def create(self, acct: Account, category: Any, p: Mapping[str, Any]) -> Order:
        """``order.create``: validate, match, rest or cancel the rest; raises :class:`OrderError`."""
        market = self.market(category, p.get("symbol"))
        inst = market.inst
        side = p.get("side")
        if side not in ("Buy", "Sell"):
            raise OrderError(10001, f"params error: side must be Buy or Sell, got {side!r}")
        otype = p.get("orderType")
        if otype not in ("Limit", "Market"):
            raise OrderError(10001, f"params error: orderType must be Limit or Market, got {otype!r}")
        tif = p.get("timeInForce") or ("IOC" if otype == "Market" else "GTC")
        if tif not in ("GTC", "IOC", "FOK", "PostOnly"):
            raise OrderError(10001, f"params error: timeInForce must be GTC, IOC, FOK or PostOnly, got {tif!r}")
        link_id = p.get("orderLinkId") or ""
        if not isinstance(link_id, str) or len(link_id) > 36:
            raise OrderError(10001, "params error: orderLinkId must be a string of at most 36 characters")
        if link_id and any(o.link_id == link_id for o in acct.orders.values()):
            raise OrderError(110072, "OrderLinkedID is duplicate")
        if len(acct.orders) >= MAX_ACTIVE_ORDERS:
            raise OrderError(110020, f"Not allowed to have more than {MAX_ACTIVE_ORDERS} active orders")
        price: int | None = 0
        if otype == "Limit":
            price = inst.price_units(str(p.get("price", "")))
            if price is None:
                raise OrderError(110003, f"Order price is invalid: {p.get('price')!r} is not a positive "
                                         f"multiple of the tick {inst.px(inst.tick)}")
        market_unit = str(p.get("marketUnit") or "")
        qty = self._qty(market, side, otype, market_unit, p.get("qty"))
        now = self.clock()
        market.set_time(now)
        order = Order(acct, inst, str(uuid.uuid4()), link_id, side, otype, tif, price or 0, qty, now,
                      reduce_only=bool(p.get("reduceOnly", False)), market_unit=market_unit, leaves=qty, updated=now)
        self._check_funds(acct, order)
        self._execute(order, market)
        return order

    def _qty(self, market: Market, side: Side, otype: str, unit: str, raw: Any) -> int:
        inst = market.inst
        if inst.category == "spot" and otype == "Market" and side == "Buy" and unit != "baseCoin":
            quote = Decimal(str(raw)) if _is_number(raw) else Decimal(0)
            ask = market.book.best("Sell")
            if quote <= 0 or ask is None:
                raise OrderError(10001, f"params error: qty {raw!r} must be a positive amount of {inst.quote}")
            base = quote / Decimal(inst.px(ask))
            units = int(base * 10**inst.qty_dec) // inst.lot * inst.lot
            if units <= 0:
                raise OrderError(110017, "Order quantity is truncated to zero")
            return units
        qty = inst.qty_units(str(raw) if raw is not None else "")
        if qty is None:
            raise OrderError(10001, f"params error: qty {raw!r} is not a positive multiple of the lot "
                                    f"{inst.qty(inst.lot)}")
        return qty

    def _check_funds(self, acct: Account, o: Order) -> None:
        inst = o.inst
        coin, need = self.order_cost(o)
        if inst.category != "spot":
            pos = acct.positions.get((inst.category, inst.symbol))
            if pos is not None and pos.size and (pos.size > 0) != (o.side == "Buy"):
                closing = min(Decimal(inst.qty(o.qty)), abs(pos.size))
                need = need * (1 - closing / Decimal(inst.qty(o.qty)))
            need += need * LEVERAGE * FEES[inst.category][0]
        if need > self.available(acct, coin):
            raise OrderError(110007, f"ab not enough for new order: needs {need:.8f} {coin}, "
                                     f"available {self.available(acct, coin):.8f}")

    def _execute(self, o: Order, market: Market) -> None:
        acct = o.account
        limit = o.price if o.order_type == "Limit" else None
        crosses = market.would_take(o.side, limit) > 0
        if o.tif == "PostOnly" and crosses:
            self._finish(o, "Cancelled", reject="EC_PostOnlyWillTakeLiquidity")
            return
        if o.tif == "FOK" and market.would_take(o.side, limit) < o.qty:
            self._finish(o, "Cancelled", reject="EC_FOKOrderCancelled" if o.order_type == "Limit" else "EC_NoError")
            return
        if crosses:
            fills = market.take(o.side, o.qty, limit)
            for f in fills:
                self._apply_fill(o, f, maker=False)
            self.after_market()  # our own resting orders may have been the makers
        if o.leaves == 0:
            self._finish(o, "Filled")
            return
        if o.order_type == "Market" or o.tif in ("IOC", "FOK"):
            status = "PartiallyFilledCanceled" if o.cum_qty and o.inst.category == "spot" else (
                "Cancelled" if not o.cum_qty or o.inst.category != "spot" else "PartiallyFilledCanceled")
            self._finish(o, status, cancel="UNKNOWN")
            return
        o.status = "PartiallyFilled" if o.cum_qty else "New"
        o.resting = Resting(o.side, o.price, o.leaves, o)
        market.book.add_resting(o.resting)
        acct.orders[o.order_id] = o
        self._emit_order(o)
        self._emit_account(acct, o.inst)

    def _finish(self, o: Order, status: str, *, reject: str = "EC_NoError", cancel: str = "UNKNOWN") -> None:
        o.status = status
        o.reject_reason = reject
        if status != "Filled":
            o.cancel_type = cancel
        o.updated = self.clock()
        if o.resting is not None:
            self.markets[o.inst.category][o.inst.symbol].book.remove_resting(o.resting)
            o.resting = None
        o.account.orders.pop(o.order_id, None)
        self._emit_order(o)
        self._emit_account(o.account, o.inst)

    def _find(self, acct: Account, category: Any, p: Mapping[str, Any]) -> Order:
        market = self.market(category, p.get("symbol"))
        oid, link = p.get("orderId"), p.get("orderLinkId")
        if not oid and not link:
            raise OrderError(10001, "params error: orderId or orderLinkId is required")
        for o in acct.orders.values():
            if o.inst is market.inst and ((oid and o.order_id == oid) or (link and o.link_id == link)):
                return o
        raise OrderError(110001, "order not exists or too late to cancel")

    def amend(self, acct: Account, category: Any, p: Mapping[str, Any]) -> Order:
        """``order.amend``: new ``qty`` and/or ``price`` of an active limit order."""
        o = self._find(acct, category, p)
        inst = o.inst
        new_price, new_qty = o.price, o.qty
        if p.get("price") not in (None, ""):
            parsed = inst.price_units(str(p["price"]))
            if parsed is None:
                raise OrderError(110003, f"Order price is invalid: {p['price']!r}")
            new_price = parsed
        if p.get("qty") not in (None, ""):
            q = inst.qty_units(str(p["qty"]))
            if q is None or q <= o.cum_qty:
                raise OrderError(10001, f"params error: qty {p['qty']!r} must exceed the filled {inst.qty(o.cum_qty)}")
            new_qty = q
        if new_price == o.price and new_qty == o.qty:
            raise OrderError(10001, "params error: nothing to amend (give a new qty or price)")
        market = self.markets[inst.category][inst.symbol]
        if o.resting is not None:
            market.book.remove_resting(o.resting)
            o.resting = None
        acct.orders.pop(o.order_id, None)
        o.price, o.qty, o.leaves = new_price, new_qty, new_qty - o.cum_qty
        o.updated = self.clock()
        self._execute(o, market)
        return o

    def cancel(self, acct: Account, category: Any, p: Mapping[str, Any]) -> Order:
        """``order.cancel``: take an active order off the book."""
        o = self._find(acct, category, p)
        status = "PartiallyFilledCanceled" if o.cum_qty and o.inst.category == "spot" else "Cancelled"
        self._finish(o, status, cancel="CancelByUser")
        return o

    # ------------------------------------------------------------------ fills

    def after_market(self) -> None:
        """Apply maker fills the market recorded for resting user orders."""
        for markets in self.markets.values():
            for m in markets.values():
                if not m.user_fills:
                    continue
                fills, m.user_fills = m.user_fills, []
                for f in fills:
                    maker = f.maker
                    if maker is None or not isinstance(maker.owner, Order):
                        continue
                    o = maker.owner
                    self._apply_fill(o, f, maker=True)
                    if o.leaves == 0:
                        o.resting = None
                        self._finish(o, "Filled")
                    else:
                        o.status = "PartiallyFilled"
                        self._emit_order(o)
                        self._emit_account(o.account, o.inst)

    def _apply_fill(self, o: Order, f: Fill, *, maker: bool) -> None:
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
        o.leaves -= f.qty
        o.cum_qty += f.qty
        o.cum_value += value
        o.cum_fee += fee
        o.updated = f.ts
        if o.leaves and o.status == "New":
            o.status = "PartiallyFilled"
        seq = next(self._exec_seq)
        self.events.append(Event(acct, "execution", inst.category,
                                 execution_row(o, f, maker, fee, rate, pnl, closed, self.mark(inst), seq),
                                 (o, f, maker)))
        self.events.append(Event(acct, "execution.fast", inst.category, fast_execution_row(o, f, maker, seq)))
        if inst.category == "option":
            self.events.append(Event(acct, "greeks", "option", greeks_rows(acct, inst.base)[0]))

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
        pos.seq = next(self._exec_seq)
        return pnl, closed

    # ------------------------------------------------------------------ events

    def _emit_order(self, o: Order) -> None:
        self.events.append(Event(o.account, "order", o.inst.category, order_row(o), order=o))

    def _emit_account(self, acct: Account, inst: Instrument) -> None:
        if inst.category != "spot":
            pos = acct.positions.get((inst.category, inst.symbol)) or Position(inst)
            self.events.append(Event(acct, "position", inst.category, position_row(pos, self.mark(inst), self.clock())))
        self.events.append(Event(acct, "wallet", "", wallet_row(self, acct)))

    def drain(self) -> list[Event]:
        """Take the events produced since the last call."""
        events, self.events = self.events, []
        return _dedupe_wallet(events)


def _dedupe_wallet(events: list[Event]) -> list[Event]:
    """Keep only the last wallet (and position per symbol) event of a batch, in place of the others."""
    last: dict[tuple[int, str, str], int] = {}
    for i, e in enumerate(events):
        if e.family in ("wallet", "position", "greeks"):
            last[(id(e.account), e.family, str(e.row.get("symbol", e.row.get("baseCoin", ""))))] = i
    keep = set(last.values())
    return [e for i, e in enumerate(events) if e.family not in ("wallet", "position", "greeks") or i in keep]


def _is_number(raw: Any) -> bool:
    try:
        return Decimal(str(raw)).is_finite()
    except ArithmeticError:
        return False
