"""asyncio + websockets: one self-healing connection per Bybit endpoint (reconnect with backoff,
auth, heartbeat), sending what the protocol's subscription state machine asks for."""

from ..protocol.signing import Credentials
from .backoff import BackoffPolicy, exponential_backoff
from .connection import Connection
from .networks import Network, resolve

__all__ = ["BackoffPolicy", "Connection", "Credentials", "Network", "exponential_backoff", "resolve"]
