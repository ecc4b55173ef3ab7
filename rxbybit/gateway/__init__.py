"""The gateway: seed 000's path-based websocket protocol served from the client's shared observables.

Clients send ``{"path": ..., "payload": ...}`` and get ``ack``, ``event`` and ``error`` frames
(see ``docs/gateway.md``). Run it with ``rxbybit gateway serve``; embed it with
:class:`Gateway`. Token verification is pluggable (:class:`TokenVerifier`): the embedded
:class:`StoreVerifier` over a SQLite :class:`UserStore` (Bybit secrets encrypted with the
operator's key, a :class:`SecretBox` from :func:`load_box`), or :class:`JWTVerifier`.
"""

from .auth import AuthError, Identity, TokenVerifier
from .envelopes import ErrorCode, GatewayError
from .jwt_auth import JWTVerifier
from .limits import Limits
from .requests import PATHS, Request, parse_request
from .server import Gateway
from .users import StoreVerifier, UserInfo, UserStore
from .vault import SecretBox, generate_key, load_box

__all__ = [
    "PATHS",
    "AuthError",
    "ErrorCode",
    "Gateway",
    "GatewayError",
    "Identity",
    "JWTVerifier",
    "Limits",
    "Request",
    "SecretBox",
    "StoreVerifier",
    "TokenVerifier",
    "UserInfo",
    "UserStore",
    "generate_key",
    "load_box",
    "parse_request",
]
