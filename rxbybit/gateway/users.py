"""The embedded user store: users, hashed access tokens bound to a fingerprint, Bybit keys (SQLite).

Only ``sha256`` of an access token is stored; the token itself is shown once, when it is made.
A token is bound to a device fingerprint: either the one given at ``add`` time, or the first one
it is presented with (trust on first use); after that any other fingerprint is refused. The
fingerprint is stored hashed too.

Each user's Bybit API secret is stored encrypted with the operator's key (see
:mod:`rxbybit.gateway.vault`): the gateway must sign with it, so it cannot keep only a hash. The
database file is kept readable by its owner only (mode 0600, tightened when found looser). Use
read-only or trade-only Bybit keys without withdrawal rights.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import sqlite3
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..protocol.signing import Credentials
from .auth import AuthError, Identity
from .vault import MissingKeyError, SecretBox, is_encrypted

log = logging.getLogger("rxbybit.gateway")

REFUSED: Final = "unknown, revoked or expired access token, or a token bound to another device"
"""The one answer to every refused token: a guesser cannot tell a valid token from an invalid one."""

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
    """Users of the gateway in one SQLite file. Every call opens its own short-lived connection.

    ``box`` holds the operator's key that encrypts Bybit secrets (:func:`rxbybit.gateway.vault.load_box`);
    without it the store still serves users without keys, and refuses, with
    :class:`~rxbybit.gateway.vault.MissingKeyError`, to store or read a secret.
    """

    def __init__(self, path: str | os.PathLike[str], box: SecretBox | None = None) -> None:
        self.path = Path(path)
        self.box = box
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        else:
            _tighten(self.path)
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
                    (name, hash_text(token), hash_text(fingerprint) if fingerprint else None, api_key,
                     self._seal(api_secret), int(time.time())),
                )
        except sqlite3.IntegrityError:
            raise ValueError(f"user {name!r} already exists; remove it first or use 'rotate'") from None
        return token

    def set_keys(self, name: str, api_key: str | None, api_secret: str | None) -> None:
        """Replace (or with both None, drop) ``name``'s Bybit keys; their live sessions follow within seconds."""
        if (api_key is None) != (api_secret is None):
            raise ValueError("give both --api-key and --api-secret, or neither")
        with self._db() as db:
            cur = db.execute("UPDATE users SET api_key = ?, api_secret = ? WHERE name = ?",
                             (api_key, self._seal(api_secret), name))
        if cur.rowcount == 0:
            raise KeyError(f"no user named {name!r}")

    def rekey(self) -> int:
        """Re-encrypt every stored secret with the box's first key (also encrypts legacy plain ones).

        Returns how many were rewritten. Run it after putting a new key first in the key list; the
        old key can be dropped once this has run.
        """
        if self.box is None:
            raise MissingKeyError("re-encrypting the stored Bybit secrets")
        box = self.box
        with self._db() as db:
            rows = db.execute("SELECT name, api_secret FROM users WHERE api_secret IS NOT NULL").fetchall()
            for name, stored in rows:
                db.execute("UPDATE users SET api_secret = ? WHERE name = ?", (box.rotate(stored), name))
        return len(rows)

    def plain_secrets(self) -> int:
        """How many users' secrets are still stored unencrypted (from before encryption at rest)."""
        with self._db() as db:
            rows = db.execute("SELECT api_secret FROM users WHERE api_secret IS NOT NULL").fetchall()
        return sum(1 for (stored,) in rows if not is_encrypted(stored))

    def _seal(self, secret: str | None) -> str | None:
        if secret is None:
            return None
        if self.box is None:
            raise MissingKeyError("storing a Bybit API secret")
        return self.box.encrypt(secret)

    def _open(self, stored: str) -> str:
        if not is_encrypted(stored):
            return stored
        if self.box is None:
            raise MissingKeyError("reading a stored Bybit API secret")
        return self.box.decrypt(stored)

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
        return Credentials(row[0], self._open(row[1]))

    def check(self, access_token: str, fingerprint: str) -> Identity:
        """Verify a token presented with ``fingerprint`` (binding it on first use); raise AuthError.

        Every refusal says the same (:data:`REFUSED`), so a reply never tells a valid token from an
        invalid one.
        """
        return self._check(access_token, fingerprint, bind=True)

    def recheck(self, access_token: str, fingerprint: str) -> Identity:
        """As :meth:`check`, without binding or touching ``last_seen_at``: is that session still good?"""
        return self._check(access_token, fingerprint, bind=False)

    def _check(self, access_token: str, fingerprint: str, bind: bool) -> Identity:
        token_hash = hash_text(access_token)
        fp_hash = hash_text(fingerprint)
        with self._db() as db:
            row = db.execute("SELECT name, token_hash, fingerprint_hash, api_key, api_secret FROM users "
                             "WHERE token_hash = ?", (token_hash,)).fetchone()
            if row is None or not hmac.compare_digest(row[1], token_hash):
                raise AuthError(REFUSED)
            name, _, bound, key, secret = row
            if bound is None and bind:
                db.execute("UPDATE users SET fingerprint_hash = ? WHERE name = ? AND fingerprint_hash IS NULL",
                           (fp_hash, name))
                bound = db.execute("SELECT fingerprint_hash FROM users WHERE name = ?", (name,)).fetchone()[0]
            if bound is None or not hmac.compare_digest(bound, fp_hash):
                raise AuthError(REFUSED)
            if bind:
                db.execute("UPDATE users SET last_seen_at = ? WHERE name = ?", (int(time.time()), name))
        creds = Credentials(key, self._open(secret)) if key is not None and secret is not None else None
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

    async def recheck(self, access_token: str, fingerprint: str) -> Identity:
        """Is an authorized session still good? (No binding, no write.)"""
        return await asyncio.to_thread(self.store.recheck, access_token, fingerprint)


def _tighten(path: Path) -> None:
    """Make an existing database file private to its owner (group and other bits cleared)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, mode & 0o700 | 0o600)
        log.warning("user database %s had mode %04o; tightened to %04o (owner only)", path, mode,
                    mode & 0o700 | 0o600)


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"invalid user name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-'")
