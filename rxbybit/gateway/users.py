"""The embedded user store: users, hashed access tokens bound to a fingerprint, Bybit keys (SQLite).

Only ``sha256`` of an access token is stored; the token itself is shown once, when it is made.
A token is bound to a device fingerprint: either the one given at ``add`` time, or the first one
it is presented with (trust on first use); after that any other fingerprint is refused. The
fingerprint is stored hashed too.

Limitation: each user's Bybit API secret is stored as given, because the gateway must sign with
it. The database file is created readable by its owner only (mode 0600); protect it like a key
file. Use read-only or trade-only Bybit keys without withdrawal rights.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..protocol.signing import Credentials
from .auth import AuthError, Identity

_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
TOKEN_BYTES = 32

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    fingerprint_hash TEXT,
    api_key TEXT,
    api_secret TEXT,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER
)
"""


def hash_text(text: str) -> str:
    """Hex sha256 of ``text`` (how tokens and fingerprints are stored)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class UserInfo:
    """What ``users list`` shows: never a token, never a secret."""

    name: str
    has_credentials: bool
    api_key_hint: str
    fingerprint_bound: bool
    created_at: int
    last_seen_at: int | None


class UserStore:
    """Users of the gateway in one SQLite file. Every call opens its own short-lived connection."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        with self._db() as db:
            db.execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"UserStore({str(self.path)!r})"

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=5.0)
        try:
            with db:
                yield db
        finally:
            db.close()

    def add(self, name: str, api_key: str | None = None, api_secret: str | None = None,
            fingerprint: str | None = None) -> str:
        """Create user ``name`` and return their new access token (shown this once only)."""
        _check_name(name)
        if (api_key is None) != (api_secret is None):
            raise ValueError("give both --api-key and --api-secret, or neither")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        try:
            with self._db() as db:
                db.execute(
                    "INSERT INTO users (name, token_hash, fingerprint_hash, api_key, api_secret, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (name, hash_text(token), hash_text(fingerprint) if fingerprint else None, api_key, api_secret,
                     int(time.time())),
                )
        except sqlite3.IntegrityError:
            raise ValueError(f"user {name!r} already exists; remove it first or use 'rotate'") from None
        return token

    def rotate(self, name: str, fingerprint: str | None = None) -> str:
        """Replace ``name``'s access token (and fingerprint binding); return the new token."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._db() as db:
            cur = db.execute("UPDATE users SET token_hash = ?, fingerprint_hash = ? WHERE name = ?",
                             (hash_text(token), hash_text(fingerprint) if fingerprint else None, name))
        if cur.rowcount == 0:
            raise KeyError(f"no user named {name!r}")
        return token

    def remove(self, name: str) -> bool:
        """Delete user ``name``; True if they existed."""
        with self._db() as db:
            cur = db.execute("DELETE FROM users WHERE name = ?", (name,))
        return cur.rowcount > 0

    def list(self) -> list[UserInfo]:
        """Every user, by name."""
        with self._db() as db:
            rows = db.execute("SELECT name, api_key, fingerprint_hash, created_at, last_seen_at FROM users "
                              "ORDER BY name").fetchall()
        return [UserInfo(n, k is not None, (k[:4] + "…") if k else "", f is not None, c, s)
                for n, k, f, c, s in rows]

    def credentials(self, name: str) -> Credentials | None:
        """The Bybit API credentials stored for ``name`` (None if the user has none or is unknown)."""
        with self._db() as db:
            row = db.execute("SELECT api_key, api_secret FROM users WHERE name = ?", (name,)).fetchone()
        if row is None or row[0] is None or row[1] is None:
            return None
        return Credentials(row[0], row[1])

    def check(self, access_token: str, fingerprint: str) -> Identity:
        """Verify a token presented with ``fingerprint`` (binding it on first use); raise AuthError."""
        token_hash = hash_text(access_token)
        fp_hash = hash_text(fingerprint)
        with self._db() as db:
            row = db.execute("SELECT name, token_hash, fingerprint_hash, api_key, api_secret FROM users "
                             "WHERE token_hash = ?", (token_hash,)).fetchone()
            if row is None or not hmac.compare_digest(row[1], token_hash):
                raise AuthError("unknown or revoked access token")
            name, _, bound, key, secret = row
            if bound is None:
                db.execute("UPDATE users SET fingerprint_hash = ? WHERE name = ? AND fingerprint_hash IS NULL",
                           (fp_hash, name))
                bound = db.execute("SELECT fingerprint_hash FROM users WHERE name = ?", (name,)).fetchone()[0]
            if not hmac.compare_digest(bound, fp_hash):
                raise AuthError("this access token is bound to another device fingerprint")
            db.execute("UPDATE users SET last_seen_at = ? WHERE name = ?", (int(time.time()), name))
        creds = Credentials(key, secret) if key is not None and secret is not None else None
        return Identity(name, creds)


class StoreVerifier:
    """The embedded :class:`~rxbybit.gateway.auth.TokenVerifier`: tokens checked against a UserStore."""

    def __init__(self, store: UserStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"StoreVerifier({self.store!r})"

    async def verify(self, access_token: str, fingerprint: str) -> Identity:
        """Check the token in a worker thread (SQLite does blocking I/O)."""
        return await asyncio.to_thread(self.store.check, access_token, fingerprint)


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"invalid user name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-'")
