"""The simulated instrument universe: which symbols each category lists, with tick and lot sizes.

Prices and sizes are kept as integers of ``10**-decimals`` units so every number the simulator
sends is exact; :class:`Instrument` turns them into Bybit's decimal strings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from ..protocol.topics import Category

REFERENCE_PRICES: Final[dict[str, float]] = {
    "BTC": 67_250.0, "ETH": 3_480.0, "SOL": 152.0, "BNB": 585.0, "XRP": 0.6, "DOGE": 0.15,
    "ADA": 0.45, "AVAX": 35.0, "LINK": 15.0, "LTC": 80.0, "DOT": 7.0, "TON": 6.5,
}
"""Plausible starting prices; other coins get a seeded price between 1 and 100."""

QUOTES: Final[tuple[str, ...]] = ("USDT", "USDC")


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable instrument of one category."""

    category: Category
    symbol: str
    base: str
    quote: str
    settle: str
    """Coin that margin, PnL and fees are kept in."""
    price_dec: int
    tick: int
    """Price step in units of ``10**-price_dec``."""
    qty_dec: int
    lot: int
    """Quantity step in units of ``10**-qty_dec``."""
    ref_price: float
    """Price the market model starts at and reverts to."""
    strike: float = 0.0
    option_type: str = ""
    """``"Call"``/``"Put"`` for options, else empty."""
    price_scale: int = -1
    """Decimals a price is written with (Bybit's ``priceScale``; -1: ``price_dec``). Linear BTCUSDT
    has a 0.1 tick but writes two decimals, ``"67249.80"``."""

    def px(self, units: int) -> str:
        """Price units as Bybit writes them in this instrument's frames (see :func:`wire_number`)."""
        return wire_number(units, self.price_dec, self.price_scale, trim=self.category == "spot")

    def qty(self, units: int) -> str:
        """Quantity units as Bybit writes them in this instrument's frames (see :func:`wire_number`)."""
        return wire_number(units, self.qty_dec, self.qty_dec, trim=self.category == "spot")

    def size(self, units: int) -> str:
        """A book level's or position's size: ``"0"`` for nothing (a deleted level, a closed position)."""
        return "0" if units == 0 else self.qty(units)

    def pxf(self, units: int) -> float:
        """Price units as a float."""
        return float(units / 10**self.price_dec)

    def qtyf(self, units: int) -> float:
        """Quantity units as a float."""
        return float(units / 10**self.qty_dec)

    def price_units(self, text: str) -> int | None:
        """Parse a price string to units; None when it is not a positive multiple of the tick."""
        return _parse(text, self.price_dec, self.tick)

    def qty_units(self, text: str) -> int | None:
        """Parse a quantity string to units; None when it is not a positive multiple of the lot."""
        return _parse(text, self.qty_dec, self.lot)

    @property
    def inverse(self) -> bool:
        """True for coin-margined contracts (quantity in USD, margin in the base coin)."""
        return self.category == "inverse"


def wire_number(units: int, dec: int, shown: int, *, trim: bool) -> str:
    """``units`` of ``10**-dec`` as Bybit writes them: padded to ``shown`` decimals on contracts
    (``"0.100"``, ``"67249.80"``); spot trims trailing zeros (``"0.07562"``, ``"20575"``), as real spot
    frames do (observed in recordings)."""
    text = _fmt(units, dec)
    if trim:
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    extra = shown - dec
    if extra > 0:
        text = f"{text}{'0' * extra}" if dec else f"{text}.{'0' * extra}"
    return text


def _fmt(units: int, dec: int) -> str:
    if dec == 0:
        return str(units)
    sign = "-" if units < 0 else ""
    q, r = divmod(abs(units), 10**dec)
    return f"{sign}{q}.{r:0{dec}d}"


def _parse(text: str, dec: int, step: int) -> int | None:
    if not isinstance(text, str | int | float) or isinstance(text, bool):
        return None
    s = str(text).strip()
    if not s or s.startswith(("-", "+")):
        return None
    whole, _, frac = s.partition(".")
    if not (whole or frac) or not (whole.isdigit() or not whole) or (frac and not frac.isdigit()):
        return None
    frac = frac.rstrip("0")
    if len(frac) > dec:
        return None
    units: int = int(whole or "0") * 10**dec + int((frac or "0").ljust(dec, "0") or "0")
    if units <= 0 or units % step:
        return None
    return units


def _seeded_unit(seed: int, text: str) -> float:
    digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_symbol(symbol: str) -> tuple[str, str]:
    """``"BTCUSDT"`` -> ``("BTC", "USDT")``; raises ``ValueError`` for other quote coins."""
    for quote in QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    raise ValueError(f"simulated symbols must end in USDT or USDC, got {symbol!r}")


def _decimals(price: float) -> tuple[int, int]:
    """(price decimals, quantity decimals) for a linear contract at ``price``."""
    if price >= 10_000:
        return 1, 3
    if price >= 1_000:
        return 2, 2
    if price >= 10:
        return 3, 1
    if price >= 1:
        return 4, 0
    return 5, 0


def _price_scale(price_dec: int) -> int:
    """Contracts write at least two price decimals (BTCUSDT: tick 0.1, ``priceScale`` 2)."""
    return max(price_dec, 2)


def _option_expiry(start_ms: int) -> str:
    day = dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC).date() + dt.timedelta(days=7)
    day += dt.timedelta(days=(4 - day.weekday()) % 7)
    return f"{day.day}{day.strftime('%b').upper()}{day.strftime('%y')}"


def build_universe(symbols: Iterable[str], seed: int, start_ms: int) -> dict[Category, dict[str, Instrument]]:
    """Every simulated instrument, by category then symbol, derived from linear ``symbols``.

    ``BTCUSDT`` lists ``BTCUSDT`` on spot and linear, ``BTCUSD`` on inverse and six
    ``BTC-{expiry}-{strike}-{C|P}`` options.
    """
    out: dict[Category, dict[str, Instrument]] = {"spot": {}, "linear": {}, "inverse": {}, "option": {}}
    for symbol in symbols:
        base, quote = split_symbol(symbol)
        ref = REFERENCE_PRICES.get(base) or round(1 + 99 * _seeded_unit(seed, base), 2)
        pdec, qdec = _decimals(ref)
        out["linear"][symbol] = Instrument("linear", symbol, base, quote, quote, pdec, 1, qdec, 1, ref,
                                           price_scale=_price_scale(pdec))
        out["spot"][symbol] = Instrument("spot", symbol, base, quote, quote, pdec + 1, 1, min(qdec + 3, 6), 1, ref)
        inv = f"{base}USD"
        if inv not in out["inverse"]:
            out["inverse"][inv] = Instrument("inverse", inv, base, "USD", base, max(pdec, 1), 5, 0, 1, ref,
                                             price_scale=_price_scale(max(pdec, 1)))
        if quote != "USDT" or ref < 10 or any(i.base == base for i in out["option"].values()):
            continue
        expiry = _option_expiry(start_ms)
        step = 10 ** max(len(str(int(ref))) - 2, 0)
        atm = round(ref / step) * step
        for k in (-1, 0, 1):
            strike = atm + k * step
            for kind, letter in (("Call", "C"), ("Put", "P")):
                name = f"{base}-{expiry}-{_strike_text(strike)}-{letter}"
                intrinsic = max(0.0, ref - strike) if letter == "C" else max(0.0, strike - ref)
                premium = intrinsic + 0.03 * ref
                out["option"][name] = Instrument(
                    "option", name, base, "USDT", "USDT", 1, 50 if premium >= 1_000 else 1, 2, 1, premium,
                    strike=strike, option_type=kind,
                )
    return out


def _strike_text(strike: float) -> str:
    return str(int(strike)) if strike == int(strike) else f"{strike:g}"
