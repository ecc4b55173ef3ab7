"""asyncio + websockets: self-healing connections to Bybit endpoints, routed by category."""

from .backoff import BackoffPolicy, exponential_backoff
from .connection import Connection, Credentials
from .networks import Network, resolve

__all__ = ["BackoffPolicy", "Connection", "Credentials", "Network", "exponential_backoff", "resolve"]
