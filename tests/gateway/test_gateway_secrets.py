"""Bybit secrets at rest: encrypted with the operator's key, a clear error without it, key rotation;
the database file kept private; and the CLI's one-line errors with exit status 2."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rxbybit.cli import main as cli_main
from rxbybit.gateway import UserStore
from rxbybit.gateway.vault import BadKeyError, MissingKeyError, SecretBox, generate_key, load_box

from .conftest import ALICE_KEY, ALICE_SECRET, BOX, OPERATOR_KEY


def test_secrets_are_stored_encrypted_and_read_back_with_the_key(tmp_path: Path) -> None:
    db = tmp_path / "u.db"
    token = UserStore(db, BOX).add("alice", ALICE_KEY, ALICE_SECRET)
    assert ALICE_SECRET.encode() not in db.read_bytes()
    ident = UserStore(db, SecretBox([OPERATOR_KEY])).check(token, "fp")
    assert ident.credentials is not None and ident.credentials.api_secret == ALICE_SECRET
    with pytest.raises(MissingKeyError, match="RXBYBIT_GATEWAY_KEY"):
        UserStore(db).credentials("alice")
    with pytest.raises(MissingKeyError, match="storing a Bybit API secret"):
        UserStore(db).add("bob", "k", "s")
    with pytest.raises(BadKeyError, match="does not decrypt"):
        UserStore(db, SecretBox([generate_key()])).credentials("alice")
    assert UserStore(db).list()[0].has_credentials, "listing needs no key"
    assert OPERATOR_KEY not in repr(BOX) and OPERATOR_KEY not in repr(UserStore(db, BOX))


def test_keys_rotate_without_losing_a_secret(tmp_path: Path) -> None:
    db = tmp_path / "u.db"
    UserStore(db, BOX).add("alice", ALICE_KEY, ALICE_SECRET)
    new = generate_key()
    both = UserStore(db, SecretBox([new, OPERATOR_KEY]))  # the new key first: it encrypts, both decrypt
    assert both.rekey() == 1
    creds = UserStore(db, SecretBox([new])).credentials("alice")  # the old key can go
    assert creds is not None and creds.api_secret == ALICE_SECRET


def test_plain_secrets_from_before_are_encrypted_by_rekey(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "u.db"
    UserStore(db, BOX).add("alice", ALICE_KEY, ALICE_SECRET)
    with sqlite3.connect(db) as conn:  # as an older version stored it
        conn.execute("UPDATE users SET api_secret = ? WHERE name = 'alice'", (ALICE_SECRET,))
    store = UserStore(db, BOX)
    assert store.plain_secrets() == 1
    assert store.rekey() == 1 and store.plain_secrets() == 0
    assert ALICE_SECRET.encode() not in db.read_bytes()


def test_the_key_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    assert load_box(environ={}) is None
    assert load_box(environ={"RXBYBIT_GATEWAY_KEY": OPERATOR_KEY}) is not None
    key_file = tmp_path / "key"
    key_file.write_text(f"{generate_key()}\n{OPERATOR_KEY}\n")
    box = load_box(environ={"RXBYBIT_GATEWAY_KEY_FILE": str(key_file)})
    assert box is not None and box.key_count == 2
    with pytest.raises(BadKeyError, match="not a valid key"):
        load_box(environ={"RXBYBIT_GATEWAY_KEY": "too-short"})
    with pytest.raises(BadKeyError, match="cannot read the key file"):
        load_box(tmp_path / "missing")


def test_a_loose_database_file_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "u.db"
    UserStore(db, BOX)
    os.chmod(db, 0o644)
    UserStore(db, BOX)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_cli_errors_are_one_line_and_exit_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "cli.db")
    monkeypatch.delenv("RXBYBIT_GATEWAY_KEY", raising=False)
    monkeypatch.delenv("RXBYBIT_GATEWAY_KEY_FILE", raising=False)
    cases = [
        (["users", "--db", db, "add", "alice", "--api-key", "K", "--api-secret", "S"], "RXBYBIT_GATEWAY_KEY"),
        (["users", "--db", db, "rotate", "nobody"], "no user named 'nobody'"),
        (["users", "--db", db, "set-keys", "nobody", "--api-key", "K"], "both"),
        (["users", "--db", db, "rekey"], "encryption key"),
        (["--db", db, "--jwt-secret-env", "RXBYBIT_TEST_UNSET_VAR"], "RXBYBIT_TEST_UNSET_VAR"),
        (["--db", db, "--max-connections", "0"], "--max-connections must be at least 1"),
        (["--db", db, "--max-loop-lag", "-1"], "--max-loop-lag must be 0"),
        (["--db", db, "--key-file", str(tmp_path / "nope")], "cannot read the key file"),
    ]
    for argv, words in cases:
        assert cli_main(["gateway", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and words in err, (argv, err)
    # a database holding secrets is not served without the key
    monkeypatch.setenv("RXBYBIT_GATEWAY_KEY", OPERATOR_KEY)
    assert cli_main(["gateway", "users", "--db", db, "add", "alice", "--api-key", "K", "--api-secret", "S"]) == 0
    monkeypatch.delenv("RXBYBIT_GATEWAY_KEY")
    assert cli_main(["gateway", "--db", db, "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "serving users with Bybit keys needs the gateway's encryption key" in err and err.count("\n") == 1


def test_keygen_and_set_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli_main(["gateway", "keygen"]) == 0
    key = capsys.readouterr().out.strip()
    SecretBox([key])  # a valid key
    monkeypatch.setenv("RXBYBIT_GATEWAY_KEY", key)
    db = str(tmp_path / "k.db")
    assert cli_main(["gateway", "users", "--db", db, "add", "alice"]) == 0
    assert cli_main(["gateway", "users", "--db", db, "set-keys", "alice", "--api-key", ALICE_KEY,
                     "--api-secret", ALICE_SECRET]) == 0
    out = capsys.readouterr().out
    assert ALICE_SECRET not in out
    creds = UserStore(db, SecretBox([key])).credentials("alice")
    assert creds is not None and creds.api_secret == ALICE_SECRET
