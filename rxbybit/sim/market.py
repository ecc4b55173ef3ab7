"""The seeded market model: one consistent order book per instrument, its trades and statistics.

A :class:`Market` evolves in discrete :meth:`Market.step` calls driven by a seeded RNG, so the
sequence of book states and trades is the same for the same seed. Every depth the server
publishes is a window on the one book here; every public trade is a real match against it
(synthetic taker flow, or a user's order from the engine), so trades, tickers and klines agree
with the book by construction. Prices and sizes are integer units (see :mod:`.instruments`).
"""

from __future__ import annotations

import math
import random
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..protocol.rest import RECENT_TRADE_MAX_LIMIT
from .instruments import Instrument
from .klines import Klines
from .orderbook import BOOK_LEVELS, SIDES, Book, Resting, Side, opposite


@dataclass(frozen=True, slots=True)
class Fill:
    """One match: ``maker`` is the user order that provided liquidity, or None if synthetic."""

    price: int
    qty: int
    maker: Resting | None
    trade_id: str
    seq: int
    ts: int
    taker_side: Side


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """A trade as ``publicTrade`` shows it; ``n`` numbers the market's trades from 1."""

    n: int
    ts: int
    side: Side
    price: int
    qty: int
    trade_id: str
    direction: str
    seq: int


@dataclass(frozen=True, slots=True)
class LiquidationEvent:
    """A simulated liquidation (``allLiquidation``): ``side`` is the liquidated position's side."""

    n: int
    ts: int
    side: Side
    qty: int
    price: int


@dataclass(slots=True)
class Stats:
    """24 h statistics a ticker reports, seeded then updated by trades."""

    prev_price_24h: int
    prev_price_1h: int
    high: int
    low: int
    volume: float
    turnover: float
    open_interest: float
    funding_rate: str
    last_price: int
    direction: str = "ZeroPlusTick"
    index_offset: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Market:
    """One instrument's book, trades, liquidations, candles and statistics."""

    def __init__(self, inst: Instrument, seed: int, t_ms: int) -> None:
        self.inst = inst
        self.seed = seed
        self.rng = random.Random(f"{seed}:{inst.category}:{inst.symbol}")
        self.book = Book()
        self.seq = self.rng.randrange(10**9, 9 * 10**10)
        """Cross sequence: rises on every change of the book (Bybit's ``seq``)."""
        self.now = t_ms
        self.ref = self._round_tick(inst.ref_price * 10**inst.price_dec)
        self.levels = BOOK_LEVELS[inst.category]
        self.trades: deque[PublicTrade] = deque(maxlen=RECENT_TRADE_MAX_LIMIT)
        """The trades REST's recent-trade can return, no more: an idle simulator's memory stays flat."""
        self.trade_count = 0
        self.liquidations: deque[LiquidationEvent] = deque(maxlen=1_000)
        self.liquidation_count = 0
        self.user_fills: list[Fill] = []
        """Fills of user orders as makers; the engine drains this after every step or take."""
        self._perturb_sizes: list[int] = []
        self._trade_id_base = 2_290_000_000_000_000_000 + self.rng.randrange(10**15)
        self._trade_ids = 0
        self._seed_book()
        rng = self.rng
        mid = self.mid() or self.ref
        prev = self._round_tick(mid * (1 + rng.uniform(-0.04, 0.04)))
        self.stats = Stats(
            prev_price_24h=prev,
            prev_price_1h=self._round_tick(mid * (1 + rng.uniform(-0.01, 0.01))),
            high=max(mid, prev) + self._round_tick(mid * rng.uniform(0.002, 0.02)),
            low=max(self.inst.tick, min(mid, prev) - self._round_tick(mid * rng.uniform(0.002, 0.02))),
            volume=round(rng.uniform(2e8, 2e9) / inst.ref_price, 3),
            turnover=round(rng.uniform(2e8, 2e9), 4),
            open_interest=round(rng.uniform(5e7, 5e8) / inst.ref_price, 3),
            funding_rate=f"{rng.uniform(-0.0001, 0.0003):.6f}",
            last_price=mid,
            index_offset=rng.randint(-3, 3) * inst.tick,
        )
        self.klines = Klines(t_ms, mid)

    # ------------------------------------------------------------------ helpers

    def _round_tick(self, units: float) -> int:
        tick = self.inst.tick
        return max(tick, round(units / tick) * tick)

    def mid(self) -> int | None:
        """Mid price rounded to the tick, or None if a side is empty."""
        b, a = self.book.best("Buy"), self.book.best("Sell")
        if b is None or a is None:
            return None
        return self._round_tick((a + b) / 2)

    def _rand_size(self, low: float = 300.0, high: float = 60_000.0) -> int:
        notional = math.exp(self.rng.uniform(math.log(low), math.log(high)))
        inst = self.inst
        if inst.inverse:
            units = int(notional)
        else:
            price = (self.mid() or self.ref) / 10**inst.price_dec
            units = int(notional / price * 10**inst.qty_dec)
        return max(inst.lot, units // inst.lot * inst.lot)

    def _bump(self) -> int:
        self.seq += self.rng.randint(1, 9)
        return self.seq

    def _seed_book(self) -> None:
        tick = self.inst.tick
        bid = self.ref - tick
        ask = self.ref
        for side in SIDES:
            start, step = (bid, -tick) if side == "Buy" else (ask, tick)
            p = start
            while self.book.count(side) < self.levels and p > 0:
                if p == start or self.rng.random() > 0.15:
                    self.book.set_synth(side, p, self._rand_size())
                p += step

    # ------------------------------------------------------------------ evolution

    def step(self, t_ms: int) -> None:
        """Advance the model by one step at time ``t_ms``: maybe a trade, then a few book changes."""
        self.now = t_ms
        self.klines.roll(t_ms)
        rng = self.rng
        mid = self.mid() or self.ref
        drift = max(-0.3, min(0.3, (mid - self.ref) / self.ref * 15))
        if rng.random() < 0.3:
            side: Side = "Buy" if rng.random() < 0.5 - drift else "Sell"
            self.take(side, self._rand_size(20.0, 15_000.0), None)
        for _ in range(rng.randint(1, 3)):
            self._mutate(drift)
        self._refill()
        if self.inst.category in ("linear", "inverse") and rng.random() < 0.004:
            self._liquidate()

    def perturb(self, depth: int) -> None:
        """Change the size of one synthetic level within the best ``depth`` (benchmark load).

        New sizes come from a pool drawn once with the model's own size distribution, so a
        burst of many thousand changes costs little more than the change itself.
        """
        rng, book = self.rng, self.book
        pool = self._perturb_sizes
        if not pool:
            pool = self._perturb_sizes = [self._rand_size() for _ in range(1024)]
        for _ in range(16):
            side: Side = "Buy" if rng.random() < 0.5 else "Sell"
            n = min(depth, book.count(side))
            if n == 0:
                continue
            p = book.price_at(side, rng.randrange(n))
            old = book.synth[side].get(p)
            if old:
                new = pool[rng.getrandbits(10)]
                book.set_synth(side, p, new if new != old else old + self.inst.lot)
                self.seq += 1 + rng.getrandbits(3)
                return

    def _mutate(self, drift: float) -> None:
        rng, book, tick = self.rng, self.book, self.inst.tick
        side: Side = "Buy" if rng.random() < 0.5 else "Sell"
        r = rng.random()
        n = book.count(side)
        if n > 2 and r < 0.65:
            idx = min(int(rng.expovariate(0.25)), n - 1)
            p = book.price_at(side, idx)
            if p not in book.synth[side]:
                return
            if r < 0.45:
                book.set_synth(side, p, self._rand_size())
            elif n > 5:
                book.set_synth(side, p, 0)
            self._bump()
            return
        best_bid, best_ask = book.best("Buy"), book.best("Sell")
        if best_bid is None or best_ask is None:
            return
        if best_ask - best_bid > tick and rng.random() < 0.8:
            side = "Buy" if rng.random() < 0.5 - drift else "Sell"
            p = best_bid + tick if side == "Buy" else best_ask - tick
        else:
            off = tick * rng.randint(1, 30)
            p = best_bid - off if side == "Buy" else best_ask + off
        if p <= 0 or p in book.synth[side]:
            return
        if (side == "Buy" and p >= best_ask) or (side == "Sell" and p <= best_bid):
            return
        book.set_synth(side, p, self._rand_size())
        self._bump()

    def _refill(self) -> None:
        book, tick = self.book, self.inst.tick
        for s in SIDES:
            if book.count(s) == 0:
                other = book.best(opposite(s))
                base = other if other is not None else self.ref
                p = base - tick if s == "Buy" else base + tick
                if p > 0:
                    book.set_synth(s, p, self._rand_size())
            while book.count(s) < self.levels:
                far = book.worst(s)
                if far is None:
                    break
                p = far - tick * self.rng.randint(1, 3) if s == "Buy" else far + tick * self.rng.randint(1, 3)
                if p <= 0:
                    break
                book.set_synth(s, p, self._rand_size())
            while book.count(s) > self.levels + 100:
                far = book.worst(s)
                if far is None or far in book.rest[s]:
                    break
                book.set_synth(s, far, 0)

    def _liquidate(self) -> None:
        mid = self.mid() or self.ref
        side: Side = "Buy" if self.rng.random() < 0.5 else "Sell"
        off = self._round_tick(mid * self.rng.uniform(0.001, 0.01))
        price = mid - off if side == "Buy" else mid + off
        self.liquidation_count += 1
        self.liquidations.append(
            LiquidationEvent(self.liquidation_count, self.now, side, self._rand_size(100.0, 50_000.0), max(price, 1))
        )

    # ------------------------------------------------------------------ matching

    def would_take(self, side: Side, limit: int | None) -> int:
        """Size a taker on ``side`` could fill now up to ``limit`` (None: no limit)."""
        book, opp = self.book, opposite(side)
        total = 0
        for p, s in book.levels(opp):
            if limit is not None and ((side == "Buy" and p > limit) or (side == "Sell" and p < limit)):
                break
            total += s
        return total

    def take(self, side: Side, qty: int, limit: int | None) -> list[Fill]:
        """Match a taker order of ``qty`` on ``side`` against the book, best price first.

        User orders at a level fill before its synthetic size. Every fill becomes a public
        trade; fills of user orders as makers also go to :attr:`user_fills`.
        """
        book, opp = self.book, opposite(side)
        seq = self._bump()
        fills: list[Fill] = []
        remaining = qty
        while remaining > 0:
            p = book.best(opp)
            if p is None:
                break
            if limit is not None and ((side == "Buy" and p > limit) or (side == "Sell" and p < limit)):
                break
            for r in list(book.rest[opp].get(p, ())):
                if remaining == 0:
                    break
                q = min(r.leaves, remaining)
                r.leaves -= q
                book.touched(opp, p)
                remaining -= q
                fill = Fill(p, q, r, self._trade_id(), seq, self.now, side)
                fills.append(fill)
                self.user_fills.append(fill)
                if r.leaves == 0:
                    book.remove_resting(r)
            synth = book.synth[opp].get(p, 0)
            if remaining and synth:
                q = min(synth, remaining)
                book.set_synth(opp, p, synth - q)
                remaining -= q
                fills.append(Fill(p, q, None, self._trade_id(), seq, self.now, side))
        for f in fills:
            self._record(f)
        return fills

    def _trade_id(self) -> str:
        self._trade_ids += 1
        if self.inst.category == "spot":
            return str(self._trade_id_base + self._trade_ids)
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _record(self, f: Fill) -> None:
        st = self.stats
        if f.price > st.last_price:
            st.direction = "PlusTick"
        elif f.price < st.last_price:
            st.direction = "MinusTick"
        else:
            st.direction = "ZeroPlusTick" if st.direction in ("PlusTick", "ZeroPlusTick") else "ZeroMinusTick"
        st.last_price = f.price
        st.high = max(st.high, f.price)
        st.low = min(st.low, f.price)
        value = self.trade_value(f.price, f.qty)
        inst = self.inst
        st.volume += inst.qtyf(f.qty)
        st.turnover += value
        self.trade_count += 1
        self.trades.append(PublicTrade(self.trade_count, f.ts, f.taker_side, f.price, f.qty, f.trade_id,
                                       st.direction, f.seq))
        self.klines.roll(f.ts)
        self.klines.add(f.ts, f.price, f.qty, value)

    def trade_value(self, price: int, qty: int) -> float:
        """Value of a fill in the settle coin (quote coin; base coin for inverse)."""
        inst = self.inst
        if inst.inverse:
            return inst.qtyf(qty) / inst.pxf(price)
        return inst.qtyf(qty) * inst.pxf(price)

    def set_time(self, t_ms: int) -> None:
        """Move the clock without a model step (user orders between steps)."""
        self.now = max(self.now, t_ms)
        self.klines.roll(self.now)
