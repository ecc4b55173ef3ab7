"""The matching engine: paper orders against the simulated books, producing private events.

Orders match against the same :class:`~.market.Market` books the public feeds publish, so a
user's taker order shows up in ``publicTrade`` and moves the book, and a resting limit order is
visible in the book and fills when synthetic flow reaches it. Every change produces
:class:`~.accounts.Event` records (order, execution, position, wallet, greeks) that the private
desk turns into pushes; the :class:`~.ledger.Ledger` books the money.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Final

from ..protocol import replies
from ..protocol.endpoints import Category
from ..protocol.limits import MAX_ACTIVE_ORDERS, MAX_ORDER_LINK_ID_LEN
from ..protocol.orders import OrderStatus
from ..protocol.replies import RetCode
from .accounts import Account, Event, Order, OrderError, Position
from .instruments import Instrument
from .ledger import Ledger
from .market import Fill, Market
from .orderbook import Resting, Side
from .pushes import execution_row, fast_execution_row, greeks_row, order_row, position_row, wallet_row

DEMO_WALLET: Final[dict[str, Decimal]] = {
    "USDT": Decimal(100_000), "USDC": Decimal(50_000), "BTC": Decimal(1), "ETH": Decimal(10),
}
"""What a fresh paper account holds."""
TIME_IN_FORCE: Final = ("GTC", "IOC", "FOK", "PostOnly")
_LATEST_ONLY: Final = ("wallet", "position", "greeks")
"""Event families where only the last event of a batch (per account and symbol) is pushed."""


def _params(detail: str) -> OrderError:
    return OrderError(RetCode.PARAMS_ERROR, replies.params_error(detail))


MARKET_SLIPPAGE: Final = Decimal("0.01")
"""How far from the touch a market order's protection price lies (a linear capture shows about 1%
from the mark; the rule per category is unconfirmed)."""


def protection_price(market: Market, side: Side) -> int:
    """The limit a market order is given as slippage protection: 1% through the touch, on the tick."""
    inst = market.inst
    touch = market.book.best("Sell" if side == "Buy" else "Buy") or market.mid() or market.ref
    steps = Decimal(touch) * (1 + MARKET_SLIPPAGE if side == "Buy" else 1 - MARKET_SLIPPAGE) / inst.tick
    rounded = steps.to_integral_value(rounding=ROUND_CEILING if side == "Buy" else ROUND_FLOOR)
    return max(inst.tick, int(rounded) * inst.tick)


def _unfilled_end(o: Order) -> OrderStatus:
    """How an order that stops before it is filled ends: spot says whether part of it filled."""
    if o.cum_qty and o.inst.category == "spot":
        return OrderStatus.PARTIALLY_FILLED_CANCELED
    return OrderStatus.CANCELLED


class Engine:
    """Accounts, orders and matching for every simulated market."""

    def __init__(self, markets: Mapping[Category, Mapping[str, Market]], clock: Callable[[], int]) -> None:
        self.markets = markets
        self.clock = clock
        self.ledger = Ledger(markets, clock)
        self.accounts: dict[str, Account] = {}
        self.events: list[Event] = []
        self._uids = itertools.count(100_200_300)

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
            raise OrderError(RetCode.NOT_SUPPORTED, replies.unsupported_category(category))
        market = self.markets[category].get(symbol) if isinstance(symbol, str) else None
        if market is None:
            raise _params(f"symbol {symbol!r} is not a simulated {category} symbol")
        return market

    # ------------------------------------------------------------------ requests

    def create(self, acct: Account, category: Any, p: Mapping[str, Any]) -> Order:
        """``order.create``: validate, match, rest or cancel the rest; raises :class:`OrderError`."""
        market = self.market(category, p.get("symbol"))
        inst = market.inst
        side = p.get("side")
        if side not in ("Buy", "Sell"):
            raise _params(f"side must be Buy or Sell, got {side!r}")
        otype = p.get("orderType")
        if otype not in ("Limit", "Market"):
            raise _params(f"orderType must be Limit or Market, got {otype!r}")
        tif = p.get("timeInForce") or ("IOC" if otype == "Market" else "GTC")
        if tif not in TIME_IN_FORCE:
            raise _params(f"timeInForce must be GTC, IOC, FOK or PostOnly, got {tif!r}")
        link_id = p.get("orderLinkId") or ""
        if not isinstance(link_id, str) or len(link_id) > MAX_ORDER_LINK_ID_LEN:
            raise _params(f"orderLinkId must be a string of at most {MAX_ORDER_LINK_ID_LEN} characters")
        if link_id and any(o.link_id == link_id for o in acct.orders.values()):
            raise OrderError(RetCode.DUPLICATE_LINK_ID, replies.DUPLICATE_LINK_ID)
        if len(acct.orders) >= MAX_ACTIVE_ORDERS:
            raise OrderError(RetCode.TOO_MANY_ACTIVE_ORDERS, replies.too_many_active_orders(MAX_ACTIVE_ORDERS))
        price: int | None = 0
        if otype == "Limit":
            price = inst.price_units(str(p.get("price", "")))
            if price is None:
                raise OrderError(RetCode.INVALID_PRICE, replies.invalid_price(
                    f"{p.get('price')!r} is not a positive multiple of the tick {inst.px(inst.tick)}"))
        market_unit = str(p.get("marketUnit") or "")
        qty = self._qty(market, side, otype, market_unit, p.get("qty"))
        now = self.clock()
        market.set_time(now)
        order = Order(acct, inst, str(uuid.uuid4()), link_id, side, otype, tif, price or 0, qty, now,
                      reduce_only=bool(p.get("reduceOnly", False)), market_unit=market_unit, leaves=qty, updated=now)
        if otype == "Market":
            order.protection_price = protection_price(market, side)
        self.ledger.check_funds(acct, order)
        self._execute(order, market)
        return order

    @staticmethod
    def _qty(market: Market, side: Side, otype: str, unit: str, raw: Any) -> int:
        inst = market.inst
        if inst.category == "spot" and otype == "Market" and side == "Buy" and unit != "baseCoin":
            quote = Decimal(str(raw)) if _is_number(raw) else Decimal(0)
            ask = market.book.best("Sell")
            if quote <= 0 or ask is None:
                raise _params(f"qty {raw!r} must be a positive amount of {inst.quote}")
            base = quote / Decimal(inst.px(ask))
            units = int(base * 10**inst.qty_dec) // inst.lot * inst.lot
            if units <= 0:
                raise OrderError(RetCode.QTY_TRUNCATED, replies.QTY_TRUNCATED)
            return units
        qty = inst.qty_units(str(raw) if raw is not None else "")
        if qty is None:
            raise _params(f"qty {raw!r} is not a positive multiple of the lot {inst.qty(inst.lot)}")
        return qty

    def _execute(self, o: Order, market: Market) -> None:
        acct = o.account
        limit = o.price if o.order_type == "Limit" else None
        crosses = market.would_take(o.side, limit) > 0
        if o.tif == "PostOnly" and crosses:
            self._finish(o, OrderStatus.CANCELLED, reject="EC_PostOnlyWillTakeLiquidity")
            return
        if o.tif == "FOK" and market.would_take(o.side, limit) < o.qty:
            self._finish(o, OrderStatus.CANCELLED,
                         reject="EC_FOKOrderCancelled" if o.order_type == "Limit" else "EC_NoError")
            return
        if crosses:
            fills = market.take(o.side, o.qty, limit)
            for f in fills:
                self._apply_fill(o, f, maker=False)
            self.after_market()  # our own resting orders may have been the makers
        if o.leaves == 0:
            self._finish(o, OrderStatus.FILLED)
            return
        if o.order_type == "Market" or o.tif in ("IOC", "FOK"):
            self._finish(o, _unfilled_end(o), cancel="UNKNOWN")
            return
        o.status = OrderStatus.PARTIALLY_FILLED if o.cum_qty else OrderStatus.NEW
        o.resting = Resting(o.side, o.price, o.leaves, o)
        market.book.add_resting(o.resting)
        acct.orders[o.order_id] = o
        self._emit_order(o)
        self._emit_account(acct, o.inst)

    def _finish(self, o: Order, status: OrderStatus, *, reject: str = "EC_NoError", cancel: str = "UNKNOWN") -> None:
        o.status = status
        o.reject_reason = reject
        if status is not OrderStatus.FILLED:
            o.cancel_type = cancel
        o.updated = self.clock()
        if o.resting is not None:
            self.markets[o.inst.category][o.inst.symbol].book.remove_resting(o.resting)
            o.resting = None
        o.account.orders.pop(o.order_id, None)
        o.account.closed_orders.append(o)
        self._emit_order(o)
        self._emit_account(o.account, o.inst)

    def _find(self, acct: Account, category: Any, p: Mapping[str, Any]) -> Order:
        market = self.market(category, p.get("symbol"))
        oid, link = p.get("orderId"), p.get("orderLinkId")
        if not oid and not link:
            raise _params("orderId or orderLinkId is required")
        for o in acct.orders.values():
            if o.inst is market.inst and ((oid and o.order_id == oid) or (link and o.link_id == link)):
                return o
        raise OrderError(RetCode.ORDER_NOT_FOUND, replies.ORDER_NOT_FOUND)

    def amend(self, acct: Account, category: Any, p: Mapping[str, Any]) -> Order:
        """``order.amend``: new ``qty`` and/or ``price`` of an active limit order."""
        o = self._find(acct, category, p)
        inst = o.inst
        new_price, new_qty = o.price, o.qty
        if p.get("price") not in (None, ""):
            parsed = inst.price_units(str(p["price"]))
            if parsed is None:
                raise OrderError(RetCode.INVALID_PRICE, replies.invalid_price(repr(p["price"])))
            new_price = parsed
        if p.get("qty") not in (None, ""):
            q = inst.qty_units(str(p["qty"]))
            if q is None or q <= o.cum_qty:
                raise _params(f"qty {p['qty']!r} must exceed the filled {inst.qty(o.cum_qty)}")
            new_qty = q
        if new_price == o.price and new_qty == o.qty:
            raise _params("nothing to amend (give a new qty or price)")
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
        self._finish(o, _unfilled_end(o), cancel="CancelByUser")
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
                        self._finish(o, OrderStatus.FILLED)
                    else:
                        o.status = OrderStatus.PARTIALLY_FILLED
                        self._emit_order(o)
                        self._emit_account(o.account, o.inst)

    def _apply_fill(self, o: Order, f: Fill, *, maker: bool) -> None:
        inst, acct = o.inst, o.account
        value, fee, rate, pnl, closed = self.ledger.settle(o, f, maker=maker)
        o.leaves -= f.qty
        o.cum_qty += f.qty
        o.cum_value += value
        o.cum_fee += fee
        o.updated = f.ts
        if o.leaves and o.status is OrderStatus.NEW:
            o.status = OrderStatus.PARTIALLY_FILLED
        seq = self.ledger.next_seq()
        row = execution_row(o, f, maker, fee, rate, pnl, closed, self.ledger.mark(inst), seq)
        acct.executions.append(row)
        self.events.append(Event(acct, "execution", inst.category, row, (o, f, maker)))
        self.events.append(Event(acct, "execution.fast", inst.category, fast_execution_row(o, f, maker, seq)))
        if inst.category == "option":
            self.events.append(Event(acct, "greeks", "option", greeks_row(acct, inst.base)))

    # ------------------------------------------------------------------ events

    def _emit_order(self, o: Order) -> None:
        self.events.append(Event(o.account, "order", o.inst.category, order_row(o), order=o))

    def _emit_account(self, acct: Account, inst: Instrument) -> None:
        if inst.category != "spot":
            pos = acct.positions.get((inst.category, inst.symbol)) or Position(inst)
            self.events.append(Event(acct, "position", inst.category,
                                     position_row(pos, self.ledger.mark(inst), self.clock())))
        self.events.append(Event(acct, "wallet", "", wallet_row(self.ledger.balances(acct), acct.realised)))

    def drain(self) -> list[Event]:
        """Take the events produced since the last call."""
        events, self.events = self.events, []
        return _latest_only(events)


def _latest_only(events: list[Event]) -> list[Event]:
    """Keep only the last wallet (and position per symbol) event of a batch, in place of the others."""
    last: dict[tuple[int, str, str], int] = {}
    for i, e in enumerate(events):
        if e.family in _LATEST_ONLY:
            last[(id(e.account), e.family, str(e.row.get("symbol", e.row.get("baseCoin", ""))))] = i
    keep = set(last.values())
    return [e for i, e in enumerate(events) if e.family not in _LATEST_ONLY or i in keep]


def _is_number(raw: Any) -> bool:
    try:
        return Decimal(str(raw)).is_finite()
    except ArithmeticError:
        return False
