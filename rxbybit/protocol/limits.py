"""Bybit's numeric limits, each written once: request sizes, id lengths, batch sizes, idle cuts.

Clients split their requests with these and the simulator enforces the same numbers, so a limit
can never drift on one side only.
"""

from __future__ import annotations

from typing import Final

from .endpoints import Endpoint

ARGS_CHAR_BUDGET: Final = 21_000
"""Per connection, the combined length of every subscribed arg may not exceed this."""

ARGS_PER_REQUEST_ENFORCED: Final[dict[Endpoint, int]] = {
    "spot": 10,
    "spot_v3_public": 10,
    "spot_v3_private": 10,
}
"""Args per subscribe request that Bybit rejects beyond (``args size >10``)."""

CLIENT_BATCH: Final = 500
"""Args per request where Bybit sets no limit: a conservative batch, as well-known SDKs use."""

MAX_ARGS_PER_CONNECTION: Final[dict[Endpoint, int]] = {"option": 2_000}
"""Topics one connection may hold, where Bybit caps them."""

BATCH_ORDER_LIMITS: Final[dict[str, int]] = {"spot": 10, "linear": 20, "inverse": 20, "option": 20}
"""Orders per WS trade batch request, by category."""

ORDER_RATE_LIMITS: Final[dict[str, int]] = {"spot": 20, "linear": 10, "inverse": 10, "option": 10}
"""WS trade requests allowed per :data:`RATE_WINDOW_MS`, per account, op and category (non-VIP)."""

RATE_WINDOW_MS: Final = 1_000
"""The window the trade rate limits count in."""

MAX_ACTIVE_ORDERS: Final = 500
"""Open orders one account may hold (beyond: ``110020``)."""

TIMESTAMP_AHEAD_MS: Final = 1_000
"""How far ahead of the server's clock a request's ``X-BAPI-TIMESTAMP`` may be."""

MAX_REQ_ID_LEN: Final = 36
"""The WS trade API's ``reqId`` is at most 36 characters."""

MAX_ORDER_LINK_ID_LEN: Final = 36
"""A client order id (``orderLinkId``) is at most 36 characters."""

PING_INTERVAL_S: Final = 20.0
"""Bybit asks clients to send a JSON ping every 20 s."""

PRIVATE_IDLE_CUT_S: Final = 600.0
"""Private and trade sockets close after 10 minutes with no ping and no data."""

IDLE_CUT_ENDPOINTS: Final[frozenset[Endpoint]] = frozenset(("private", "trade"))
"""Sockets Bybit closes when idle; they alone take ``max_active_time``."""

MAX_ACTIVE_TIME_RANGE_S: Final = (30, 600)
"""The range ``max_active_time`` (private and trade only) accepts, in seconds."""

DEFAULT_RECV_WINDOW_MS: Final = 5_000
"""``X-BAPI-RECV-WINDOW`` when a request gives none."""

AUTH_EXPIRES_IN_MS: Final = 10_000
"""How far ahead a websocket ``auth`` signature's ``expires`` is set by default."""


def args_per_request(endpoint: Endpoint) -> int:
    """How many args one subscribe request may carry on ``endpoint``."""
    return ARGS_PER_REQUEST_ENFORCED.get(endpoint, CLIENT_BATCH)


def batch_order_limit(category: str) -> int:
    """Orders one batch request may carry in ``category`` (20 where Bybit names no category)."""
    return BATCH_ORDER_LIMITS.get(category, 20)


def order_rate_limit(category: str) -> int:
    """Trade requests per :data:`RATE_WINDOW_MS` in ``category`` (10 where Bybit names no category)."""
    return ORDER_RATE_LIMITS.get(category, 10)


def timestamp_in_window(timestamp_ms: int, server_ms: int, recv_window_ms: int) -> bool:
    """Bybit's freshness rule: ``server - recv_window <= timestamp < server + TIMESTAMP_AHEAD_MS``."""
    return server_ms - recv_window_ms <= timestamp_ms < server_ms + TIMESTAMP_AHEAD_MS


def connection_refusal(endpoint: Endpoint, chars: int, topics: int) -> str | None:
    """Why one connection of ``endpoint`` cannot hold ``topics`` topics of ``chars`` characters in all
    (Bybit's args budget, the option socket's topic cap), or None when they fit."""
    if chars > ARGS_CHAR_BUDGET:
        return (f"{chars} characters of args would pass Bybit's {ARGS_CHAR_BUDGET}-character args budget of one "
                "connection: spread the topics over more connections")
    cap = MAX_ARGS_PER_CONNECTION.get(endpoint)
    if cap is not None and topics > cap:
        return f"a {endpoint} connection serves at most {cap} topics"
    return None


def check_req_id(req_id: str) -> str:
    """Return ``req_id`` if the trade API accepts its length, else raise ``ValueError``."""
    if len(req_id) > MAX_REQ_ID_LEN:
        raise ValueError(f"reqId {req_id!r} is longer than {MAX_REQ_ID_LEN} characters")
    return req_id


def parse_max_active_time(text: str) -> float:
    """``max_active_time`` (``30s`` .. ``600s`` or ``1m`` .. ``10m``) in seconds, or ``ValueError``."""
    unit = text[-1:]
    number = text[:-1]
    if unit not in ("s", "m") or not number.isdigit():
        raise ValueError(f"max_active_time must look like '30s' or '2m', got {text!r}")
    seconds = int(number) * (60 if unit == "m" else 1)
    low, high = MAX_ACTIVE_TIME_RANGE_S
    if not low <= seconds <= high:
        raise ValueError(f"max_active_time must be between {low}s and {high}s, got {text!r}")
    return float(seconds)


def idle_cut_s(endpoint: Endpoint, max_active_time: str | None = None) -> float | None:
    """Seconds without a ping or data after which Bybit closes a socket (None: never).

    ``max_active_time`` is the URL parameter (only the idle-cut sockets read it).
    """
    if endpoint not in IDLE_CUT_ENDPOINTS:
        return None
    return PRIVATE_IDLE_CUT_S if max_active_time is None else parse_max_active_time(max_active_time)
