"""Bybit API secrets at rest: encrypted with a key the operator provides (Fernet, from ``cryptography``).

The gateway must sign with each user's Bybit secret, so it cannot store only a hash; it stores
the secret encrypted instead. Encryption is ``cryptography``'s Fernet (AES-128-CBC with an
HMAC-SHA256 tag): a maintained library gets the corner cases right. The key never lives in the
database: the operator gives it in the environment variable ``RXBYBIT_GATEWAY_KEY`` or in a file
named by ``RXBYBIT_GATEWAY_KEY_FILE`` (or ``--key-file``). Several keys, separated by commas or
on separate lines, allow rotation: the first encrypts, every one decrypts, and
``rxbybit gateway users rekey`` re-encrypts every stored secret with the first.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from ..errors import ConfigurationError

KEY_ENV: Final = "RXBYBIT_GATEWAY_KEY"
KEY_FILE_ENV: Final = "RXBYBIT_GATEWAY_KEY_FILE"
PREFIX: Final = "fernet:"
"""How an encrypted value starts in the database (anything else is a legacy plain value)."""


class MissingKeyError(ConfigurationError):
    """A Bybit secret must be encrypted or decrypted, and the operator gave no key."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} needs the gateway's encryption key: set {KEY_ENV} (or {KEY_FILE_ENV}, or --key-file) "
            "to a key made by 'rxbybit gateway keygen'")


class BadKeyError(ConfigurationError):
    """The operator's key is malformed, or does not decrypt what the database holds."""


def generate_key() -> str:
    """A new random key (url-safe base64 text) for ``RXBYBIT_GATEWAY_KEY``."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


class SecretBox:
    """Encrypts and decrypts stored secrets with the operator's key(s). Never shows a key."""

    def __init__(self, keys: Iterable[str | bytes]) -> None:
        try:
            from cryptography.fernet import Fernet, MultiFernet
        except ImportError:  # pragma: no cover - depends on the installation
            raise ImportError("encrypting Bybit secrets needs cryptography: pip install 'rxbybit[gateway]'") from None
        parsed = []
        for n, key in enumerate(keys, 1):
            try:
                parsed.append(Fernet(key.strip() if isinstance(key, bytes) else key.strip().encode()))
            except (ValueError, TypeError):
                raise BadKeyError(f"encryption key #{n} is not a valid key (32 url-safe base64-encoded bytes); "
                                  "make one with 'rxbybit gateway keygen'") from None
        if not parsed:
            raise BadKeyError("no encryption key given")
        self._fernet = MultiFernet(parsed)
        self.key_count = len(parsed)

    def __repr__(self) -> str:
        return f"SecretBox(keys={self.key_count})"

    def encrypt(self, text: str) -> str:
        """``text`` encrypted with the first key, as stored."""
        return PREFIX + self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, stored: str) -> str:
        """The plain text of a stored value (a legacy plain value comes back as is)."""
        if not stored.startswith(PREFIX):
            return stored
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(stored[len(PREFIX):].encode()).decode()
        except InvalidToken:
            raise BadKeyError("a stored Bybit secret does not decrypt with the given key(s): the key is wrong, or "
                              "an old key was dropped before 'users rekey' ran") from None

    def rotate(self, stored: str) -> str:
        """A stored value re-encrypted with the first key."""
        return self.encrypt(self.decrypt(stored))


def is_encrypted(stored: str) -> bool:
    """True if ``stored`` is an encrypted value (not a legacy plain one)."""
    return stored.startswith(PREFIX)


def load_box(key_file: str | os.PathLike[str] | None = None,
             environ: Mapping[str, str] | None = None) -> SecretBox | None:
    """The operator's key from ``key_file``, else ``$RXBYBIT_GATEWAY_KEY_FILE``, else ``$RXBYBIT_GATEWAY_KEY``.

    None when none is set. Raises :class:`BadKeyError` for an unreadable file or a malformed key.
    """
    env = os.environ if environ is None else environ
    path = key_file or env.get(KEY_FILE_ENV)
    if path:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise BadKeyError(f"cannot read the key file {str(path)!r}: {exc.strerror or exc}") from None
    else:
        text = env.get(KEY_ENV, "")
    keys = [k for k in text.replace(",", "\n").split() if k]
    return SecretBox(keys) if keys else None
