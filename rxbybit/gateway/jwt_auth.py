"""A :class:`~rxbybit.gateway.auth.TokenVerifier` for access tokens issued as JWTs by another service.

Verification is done by PyJWT (signature, ``exp``/``nbf``, and ``aud``/``iss`` when configured):
token parsing is security-sensitive and a maintained library gets the corner cases right
(algorithm pinning, padding, time claims). Install it with ``pip install 'rxbybit[jwt]'``.

An HMAC secret (HS256/384/512) shorter than 32 bytes is refused: a short shared secret can be
brute-forced offline from one token. The user is the ``sub`` claim. When the token carries a
fingerprint claim (``fpt`` by default) it must equal the fingerprint the client presents;
``require_fingerprint=True`` (``--jwt-require-fingerprint``) refuses tokens without one.
Bybit keys for private streams come from ``credentials`` (for example
:meth:`UserStore.credentials <rxbybit.gateway.users.UserStore.credentials>`), looked up by user.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable, Sequence
from typing import Any

from ..protocol.signing import Credentials
from .auth import AuthError, Identity

MIN_HMAC_KEY_BYTES = 32
"""Shortest HS* secret accepted (RFC 7518 section 3.2: a key at least as long as the hash output)."""


class JWTVerifier:
    """Verifies JWT access tokens with a shared secret (HS*) or a public key (RS*/ES*/EdDSA)."""

    def __init__(
        self,
        key: str | bytes,
        *,
        algorithms: Sequence[str] = ("HS256",),
        audience: str | None = None,
        issuer: str | None = None,
        user_claim: str = "sub",
        fingerprint_claim: str = "fpt",
        require_fingerprint: bool = False,
        leeway: float = 0.0,
        credentials: Callable[[str], Credentials | None] | None = None,
    ) -> None:
        try:
            import jwt
        except ImportError:  # pragma: no cover - depends on the installation
            raise ImportError("the JWT verifier needs PyJWT: pip install 'rxbybit[jwt]'") from None
        if not algorithms or "none" in {a.lower() for a in algorithms}:
            raise ValueError("give at least one signing algorithm; 'none' is never accepted")
        if any(a.upper().startswith("HS") for a in algorithms):
            size = len(key.encode() if isinstance(key, str) else key)
            if size < MIN_HMAC_KEY_BYTES:
                raise ValueError(f"the JWT secret is {size} bytes long; HMAC algorithms need at least "
                                 f"{MIN_HMAC_KEY_BYTES} random bytes (e.g. 'python -c \"import secrets; "
                                 "print(secrets.token_urlsafe(48))\"')")
        self._jwt = jwt
        self._key = key
        self.algorithms = tuple(algorithms)
        self.audience = audience
        self.issuer = issuer
        self.user_claim = user_claim
        self.fingerprint_claim = fingerprint_claim
        self.require_fingerprint = require_fingerprint
        self.leeway = leeway
        self._credentials = credentials

    def __repr__(self) -> str:
        return f"JWTVerifier(algorithms={list(self.algorithms)}, audience={self.audience!r}, issuer={self.issuer!r})"

    def _decode(self, token: str) -> dict[str, Any]:
        required = ["exp", self.user_claim]
        try:
            claims: dict[str, Any] = self._jwt.decode(
                token, self._key, algorithms=list(self.algorithms), audience=self.audience, issuer=self.issuer,
                leeway=self.leeway, options={"require": required},
            )
        except self._jwt.ExpiredSignatureError:
            raise AuthError("access token has expired") from None
        except self._jwt.InvalidTokenError as exc:
            raise AuthError(f"access token refused: {type(exc).__name__}") from None
        return claims

    async def verify(self, access_token: str, fingerprint: str) -> Identity:
        """Check signature, time and fingerprint claims; look up the user's Bybit keys."""
        claims = self._decode(access_token)
        user = claims.get(self.user_claim)
        if not isinstance(user, str) or not user:
            raise AuthError(f"access token has no usable {self.user_claim!r} claim")
        bound = claims.get(self.fingerprint_claim)
        if bound is None:
            if self.require_fingerprint:
                raise AuthError(f"access token has no {self.fingerprint_claim!r} (fingerprint) claim")
        elif not isinstance(bound, str) or not hmac.compare_digest(bound.encode(), fingerprint.encode()):
            raise AuthError("this access token is bound to another device fingerprint")
        creds = None
        if self._credentials is not None:
            creds = await asyncio.to_thread(self._credentials, user)
        return Identity(user, creds)
