"""asyncio + websockets: self-healing connections to Bybit endpoints, routed by category."""

from ..protocol.signing import Credentials
from .backoff import BackoffPolicy, exponential_backoff
from .connection import Connection
from .networks import Network, resolve

__all__ = ["BackoffPolicy", "Connection", "Credentials", "Network", "exponential_backoff", "resolve"]
