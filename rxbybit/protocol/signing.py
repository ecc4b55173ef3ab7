"""Request signing: the HMAC-SHA256 signature Bybit checks on ``auth``."""

from __future__ import annotations

import hashlib
import hmac


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
