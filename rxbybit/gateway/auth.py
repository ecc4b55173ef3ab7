"""Pluggable token verification: who a connection is, and which Bybit keys it may use.

A verifier is any object with ``async verify(access_token, fingerprint) -> Identity`` that
raises :class:`AuthError` when the token is not good. Two ship with rxbybit: the embedded
:class:`~rxbybit.gateway.users.StoreVerifier` (SQLite) and
:class:`~rxbybit.gateway.jwt_auth.JWTVerifier` (tokens issued by another service).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..protocol.signing import Credentials


class AuthError(Exception):
    """A token was refused. The message is safe to show the client: it never echoes the token."""


@dataclass(frozen=True)
class Identity:
    """An authorized user: a stable ``user`` name and, if any, their Bybit API ``credentials``.

    The API secret never appears in ``repr``.
    """

    user: str
    credentials: Credentials | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        keys = "with Bybit keys" if self.credentials is not None else "without Bybit keys"
        return f"Identity(user={self.user!r}, {keys})"

    @property
    def account(self) -> tuple[str, str]:
        """What the gateway keys a user's upstream by: the name and a digest of the Bybit keys.

        It changes whenever the credentials do, so a re-added user of the same name, or a user
        whose keys were replaced, never reaches a client signed with the old keys. The digest is
        a one-way hash and is never shown.
        """
        creds = self.credentials
        if creds is None:
            return self.user, ""
        digest = hashlib.sha256(f"{creds.api_key}\0{creds.api_secret}".encode()).hexdigest()
        return self.user, digest


@runtime_checkable
class TokenVerifier(Protocol):
    """Turns an ``accessToken`` presented with a device ``fingerprint`` into an :class:`Identity`."""

    async def verify(self, access_token: str, fingerprint: str) -> Identity:
        """Return who the token belongs to, or raise :class:`AuthError`."""
        ...
