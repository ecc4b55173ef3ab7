"""Request signing: the HMAC-SHA256 signature Bybit checks on ``auth``, and the credentials it needs."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field


def auth_payload(expires: int) -> str:
    """The string Bybit signs for websocket auth: ``"GET/realtime" + expires``."""
    return f"GET/realtime{int(expires)}"


def sign(api_secret: str, expires: int) -> str:
    """Lower-case hex HMAC-SHA256 of :func:`auth_payload` keyed with ``api_secret``."""
    if not api_secret:
        raise ValueError("api_secret is empty")
    return hmac.new(
        api_secret.encode(), auth_payload(expires).encode(), hashlib.sha256
    ).hexdigest()


def verify(api_secret: str, expires: int, signature: str) -> bool:
    """True when ``signature`` is the valid auth signature (constant-time compare)."""
    return hmac.compare_digest(sign(api_secret, expires), str(signature))


@dataclass(frozen=True)
class Credentials:
    """An API key and secret. The secret never appears in ``repr``, ``str`` or errors."""

    api_key: str
    api_secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.api_key or not self.api_secret:
            raise ValueError("an API key and secret must both be non-empty")

    def __repr__(self) -> str:
        return f"Credentials(api_key={self.api_key[:4]}…)"

    __str__ = __repr__

    def sign(self, expires: int) -> str:
        """The websocket auth signature for ``expires`` (epoch ms)."""
        return sign(self.api_secret, expires)
