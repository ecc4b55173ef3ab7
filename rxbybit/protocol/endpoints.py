"""Bybit's sockets: their names, URL paths, and which of them need auth or take subscriptions.

Every rule about *which socket does what* lives here; the client, the simulator and the gateway
ask these functions instead of spelling the sets out again.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Category = Literal["spot", "linear", "inverse", "option"]
"""A public V5 market category; each has its own socket."""

Endpoint = Literal[
    "spot", "linear", "inverse", "option", "private", "trade", "spot_v3_public", "spot_v3_private"
]
"""A socket kind: the four public categories, private, trade, and the legacy spot v3 pair."""

CATEGORIES: Final[tuple[Category, ...]] = get_args(Category)
ENDPOINTS: Final[tuple[Endpoint, ...]] = get_args(Endpoint)

ENDPOINT_PATHS: Final[dict[Endpoint, str]] = {
    "spot": "/v5/public/spot",
    "linear": "/v5/public/linear",
    "inverse": "/v5/public/inverse",
    "option": "/v5/public/option",
    "private": "/v5/private",
    "trade": "/v5/trade",
    "spot_v3_public": "/spot/public/v3",
    "spot_v3_private": "/spot/private/v3",
}
PATH_ENDPOINTS: Final[dict[str, Endpoint]] = {v: k for k, v in ENDPOINT_PATHS.items()}

AUTH_ENDPOINTS: Final[frozenset[Endpoint]] = frozenset(("private", "trade", "spot_v3_private"))
"""Sockets that take ``op: auth`` first; they live on the private host of a network."""

SUBSCRIPTION_ENDPOINTS: Final[frozenset[Endpoint]] = frozenset(e for e in ENDPOINTS if e != "trade")
"""Sockets that take ``subscribe``/``unsubscribe`` (every one but the WS trade API)."""


def needs_auth(endpoint: Endpoint) -> bool:
    """True for the private, trade and spot v3 private sockets (auth before anything else)."""
    return endpoint in AUTH_ENDPOINTS


def takes_subscriptions(endpoint: Endpoint) -> bool:
    """True for every socket that streams topics (all but ``trade``)."""
    return endpoint in SUBSCRIPTION_ENDPOINTS


def req_id_key(endpoint: Endpoint) -> str:
    """The request-id field a socket reads and echoes: ``reqId`` on trade, ``req_id`` elsewhere."""
    return "reqId" if endpoint == "trade" else "req_id"


def endpoint_path(endpoint: Endpoint) -> str:
    """URL path of an endpoint, e.g. ``/v5/public/linear`` for ``"linear"``."""
    if endpoint not in ENDPOINT_PATHS:
        raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {', '.join(ENDPOINTS)}")
    return ENDPOINT_PATHS[endpoint]


def validate_category(category: str) -> Category:
    """Return ``category`` if it is a public V5 category, else raise ``ValueError``."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; expected one of {', '.join(CATEGORIES)}")
    return category


SIMULATOR_HEADER = "X-Rxbybit-Simulator"
"""Handshake response header by which ``rxbybit.sim`` announces itself (not a Bybit rule): a
client that sees it labels the data SIMULATED whatever URL it was given."""
