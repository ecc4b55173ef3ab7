"""The gateway's side of the client: shared upstream streams fanned out to gateway connections.

One public :class:`~rxbybit.Bybit` client serves every connection; each user with Bybit keys gets
their own private client (an :class:`~rxbybit.gateway.account.Account`), shared by that user's
connections and closed when none needs it. Accounts are keyed by :attr:`Identity.account
<rxbybit.gateway.auth.Identity.account>` (the name and a digest of the keys), never by the name
alone: a re-added user, or one whose keys were replaced, gets a fresh client. A topic costs one
exchange subscription however many connections watch it: a :class:`~rxbybit.gateway.fanout.Router` holds one observer of
``Bybit.topic(...)`` per topic (that keeps the exchange subscription) and forwards the raw Bybit
frames from ``Bybit.frames(endpoint)``, wrapped once in an event envelope and shared by every
subscriber.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reactivex import abc

from ..client import Bybit
from ..protocol import topics as T
from ..protocol.endpoints import needs_auth
from ..protocol.instruments import InstrumentInfo
from ..protocol.ticker import Ticker
from .account import Account, LoginFailed, NoCredentials, safe_text
from .auth import Identity
from .envelopes import event
from .fanout import Group, Router, Sink, Subscription, external_path
from .profile import notification
from .requests import PROFILE, SYMBOLS

__all__ = ["ClientFactory", "Hub", "LoginFailed", "NoCredentials", "Sink", "Subscription", "SymbolList",
           "UnknownInstrument", "external_path"]

log = logging.getLogger("rxbybit.gateway")

ClientFactory = Callable[[str, Identity | None], Bybit]
"""Makes the upstream client for a base URL (``identity`` None: the shared public client)."""

SymbolList = Sequence[tuple[T.Category, str]]

InstrumentList = Mapping[str, frozenset[str]]
"""Per category, every name a public topic may carry (symbols, and for options their base coins)."""


class UnknownInstrument(ValueError):
    """A public topic names an instrument the exchange does not list."""

TICKER_FIELDS = ("lastPrice", "price24hPcnt", "highPrice24h", "lowPrice24h", "volume24h", "bid1Price", "ask1Price",
                 "markPrice")
"""What a ``/symbols`` ticker event carries of Bybit's ticker."""


class Hub:
    """Upstream streams of a gateway: one public client, one private client per user with keys."""

    def __init__(self, base_url: str | None, *, symbols: SymbolList = (), client_factory: ClientFactory | None = None,
                 public: Bybit | None = None, router_factory: Callable[[Bybit], Router] | None = None) -> None:
        if base_url is None and public is None:
            raise ValueError("give the upstream base URL (or a public client)")
        self._factory = client_factory or _default_factory
        self.base_url = base_url
        self.public = public if public is not None else self._factory(str(base_url), None)
        self._public_router = (router_factory or Router)(self.public)  # a BusRouter for replicas
        self._users: dict[tuple[str, str], Account] = {}
        self.instruments: dict[str, frozenset[str]] = {}
        """Category -> accepted names; a category missing here is not checked (no list available)."""
        self.symbol_list: tuple[tuple[T.Category, str], ...] = tuple(symbols)
        self._tickers: dict[tuple[str, str], dict[str, Any]] = {}
        self._symbols = Group(SYMBOLS, self._start_symbols)
        self._closing: set[asyncio.Task[None]] = set()
        self._instruments: dict[str, Mapping[str, InstrumentInfo]] = {}
        self._instruments_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ users

    def attach(self, identity: Identity) -> None:
        """A connection was authorized as ``identity`` (counted until :meth:`detach`)."""
        user = self._users.get(identity.account)
        if user is None:
            make = None
            if identity.credentials is not None:
                creds = identity.credentials
                base = str(self.base_url or self.public.url)
                factory = self._factory

                def make() -> Bybit:
                    return factory(base, Identity(identity.user, creds))

            user = self._users[identity.account] = Account(identity, make)
        user.sessions += 1

    def detach(self, identity: Identity) -> None:
        """That connection is gone; a user with no connection left loses their private client."""
        user = self._users.get(identity.account)
        if user is None:
            return
        user.sessions -= 1
        if user.idle():
            del self._users[identity.account]
            task = asyncio.get_running_loop().create_task(user.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def users_online(self) -> tuple[str, ...]:
        """Names of users with at least one authorized connection."""
        return tuple(dict.fromkeys(name for (name, _), u in self._users.items() if u.sessions > 0))

    def accounts(self, user: str) -> list[Account]:
        """Every open account of ``user`` (more than one only while old sessions are being closed)."""
        return [a for (name, _), a in self._users.items() if name == user]

    def upstream(self, user: str | None = None) -> Bybit | None:
        """The client serving ``user``'s private streams (None: the shared public client).

        None when that user has no private client open right now. For monitoring, e.g.
        ``hub.upstream("alice").health_now()``.
        """
        if user is None:
            return self.public
        accounts = self.accounts(user)
        return None if not accounts else accounts[-1].client

    def notify(self, user: str, title: str, message: str, level: str = "info",
               data: Mapping[str, Any] | None = None) -> bool:
        """Send a notification to ``user``'s ``/user/notifications`` subscribers; False if none."""
        sent = False
        for u in self.accounts(user):
            if u.notifications.sinks:
                u.notifications.emit(notification("gateway", title, message, level, data))
                sent = True
        return sent

    def check_topic(self, topic: T.Topic) -> None:
        """Raise :class:`UnknownInstrument` if ``topic`` names an instrument its category does not list."""
        allowed = self.instruments.get(topic.endpoint)
        if allowed is None or topic.symbol is None or topic.symbol in allowed:
            return
        raise UnknownInstrument(f"{topic.symbol!r} is not an instrument listed on {topic.endpoint}")

    def login_error(self, identity: Identity) -> LoginFailed | None:
        """Why ``identity``'s private streams are off (Bybit refused the keys), or None."""
        account = self._users.get(identity.account)
        if account is None or account.login_error is None:
            return None
        return LoginFailed(identity.user, account.login_error)

    # ------------------------------------------------------------------ subscriptions

    def external(self, endpoint: T.Endpoint, topic: str, identity: Identity | None, sink: Sink) -> Subscription:
        """Pass-through of a Bybit topic (private topics on ``identity``'s own client)."""
        if needs_auth(endpoint):
            return self._user(identity).upstream().add(endpoint, topic, sink)
        return self._public_router.add(endpoint, topic, sink)

    def profile(self, identity: Identity, sink: Sink) -> Subscription:
        """Total-balance events of ``identity`` (starts with the last known one, if any)."""
        user = self._user(identity)
        user.upstream()
        greeting = event(PROFILE, user.last_profile) if user.last_profile is not None else None
        return user.profile.add(sink, greeting)

    def notifications(self, identity: Identity, sink: Sink) -> Subscription:
        """Order, fill and gateway notifications of ``identity``."""
        return self._user(identity).notifications.add(sink)

    def symbols(self, sink: Sink) -> Subscription:
        """The instrument list, then live ticker events of every watched symbol.

        The list holds the exchange's trading instruments of the watched symbols' categories (with
        tick and lot sizes) once they were read from REST; the first subscriber starts that read and
        gets the watched symbols at once, then the full list as a second ``list`` event.
        """
        self._load_instruments()
        return self._symbols.add(sink, event(SYMBOLS, {"event": "list", "symbols": self._symbol_rows()}))

    def _symbol_rows(self) -> list[dict[str, Any]]:
        rows = []
        listed: set[tuple[str, str]] = set()
        for category, symbol in self.symbol_list:
            row: dict[str, Any] = {"category": category, "symbol": symbol}
            info = self._instruments.get(category, {}).get(symbol)
            if info is not None:
                row.update(_instrument_fields(info))
            row.update(self._tickers.get((category, symbol), {}))
            rows.append(row)
            listed.add((category, symbol))
        for cat, infos in self._instruments.items():
            rows += [{"category": cat, "symbol": i.symbol, **_instrument_fields(i)} for i in infos.values()
                     if i.trading and (cat, i.symbol) not in listed]
        return rows

    def _load_instruments(self) -> None:
        if self._instruments_task is not None or not self.symbol_list:
            return

        async def load() -> None:
            for category in dict.fromkeys(c for c, _ in self.symbol_list):
                try:
                    self._instruments[category] = await self.public.instruments(category)
                except Exception as exc:  # the watched list stays; say why the rest is missing
                    log.warning("instruments of %s could not be read: %s", category, exc)
                    self._symbols.emit({"event": "error", "category": category, "message": safe_text(exc)})
            if self._instruments:
                self._symbols.emit({"event": "list", "symbols": self._symbol_rows()})

        self._instruments_task = asyncio.get_running_loop().create_task(load(), name="rxbybit-gateway-instruments")

    def _start_symbols(self) -> list[abc.DisposableBase]:
        return [self._watch_symbol(category, symbol) for category, symbol in self.symbol_list]

    def _watch_symbol(self, category: T.Category, symbol: str) -> abc.DisposableBase:
        def on_next(ticker: Ticker) -> None:
            self._on_ticker(category, ticker)

        def on_error(exc: Exception) -> None:
            self._on_symbol_error(category, symbol, exc)

        return self.public.ticker(symbol, category).subscribe(on_next=on_next, on_error=on_error)

    def _on_ticker(self, category: str, ticker: Ticker) -> None:
        fields = {k: ticker.get(k) for k in TICKER_FIELDS if ticker.get(k) is not None}
        self._tickers[(category, ticker.symbol)] = fields
        self._symbols.emit({"event": "ticker", "category": category, "symbol": ticker.symbol, "ts": ticker.ts,
                            **fields})

    def _on_symbol_error(self, category: str, symbol: str, exc: Exception) -> None:
        log.warning("symbol stream %s %s failed: %s", category, symbol, exc)
        self._symbols.emit({"event": "error", "category": category, "symbol": symbol, "message": safe_text(exc)})

    def _user(self, identity: Identity | None) -> Account:
        if identity is None or identity.account not in self._users:
            raise PermissionError("this connection is not authorized")
        return self._users[identity.account]

    # ------------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        """Close every user's client and the public client."""
        if self._instruments_task is not None:
            self._instruments_task.cancel()
        self._symbols.stop()
        self._public_router.close()
        users, self._users = list(self._users.values()), {}
        await asyncio.gather(*(u.close() for u in users), return_exceptions=True)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        await self.public.close()


def _instrument_fields(info: InstrumentInfo) -> dict[str, Any]:
    return {"status": info.status, "tickSize": str(info.tick_size), "qtyStep": str(info.qty_step),
            "minOrderQty": str(info.min_qty), "minNotional": str(info.min_notional)}


def instrument_names(universe: Mapping[str, Sequence[Any] | Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """An allow-list from per-category instruments (names, mappings with ``symbol``, or objects with ``.symbol``).

    Option categories also accept each instrument's base coin (``publicTrade.BTC`` on options).
    """
    out: dict[str, frozenset[str]] = {}
    for category, items in universe.items():
        names: set[str] = set()
        for item in items:
            name = item if isinstance(item, str) else (
                item.get("symbol") if isinstance(item, Mapping) else getattr(item, "symbol", None))
            if isinstance(name, str) and name:
                names.add(name)
                if category == "option":
                    names.add(name.split("-", 1)[0])
        if names:
            out[category] = frozenset(names)
    return out


def _default_factory(base_url: str, identity: Identity | None) -> Bybit:
    if identity is None or identity.credentials is None:
        return Bybit(base_url)
    creds = identity.credentials
    return Bybit(base_url, api_key=creds.api_key, api_secret=creds.api_secret)
