"""Users, hashed tokens bound to a fingerprint, the JWT verifier, and the ``rxbybit gateway users`` CLI."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from rxbybit.cli import main as cli_main
from rxbybit.gateway import AuthError, ErrorCode, Gateway, JWTVerifier, StoreVerifier, UserStore
from rxbybit.gateway.users import hash_text

from .conftest import ALICE_KEY, ALICE_SECRET, BOX, OPERATOR_KEY, Client, open_client

SHARED = "test-shared-secret-0123456789abcdef"
OTHER = "other-secret-0123456789abcdefghijk"


def test_add_stores_only_hashes_and_check_binds_the_fingerprint(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "u.db", BOX)
    token = store.add("alice", ALICE_KEY, ALICE_SECRET)
    assert len(token) >= 40
    raw = (tmp_path / "u.db").read_bytes()
    assert token.encode() not in raw and hash_text(token).encode() in raw
    assert (tmp_path / "u.db").stat().st_mode & 0o077 == 0, "the database is private to its owner"
    ident = store.check(token, "device-1")
    assert ident.user == "alice" and ident.credentials is not None
    assert ident.credentials.api_key == ALICE_KEY
    assert ALICE_SECRET not in repr(ident) and ALICE_SECRET not in repr(ident.credentials)
    assert store.check(token, "device-1").user == "alice", "the same device again"
    with pytest.raises(AuthError) as wrong_device:
        store.check(token, "device-2")
    with pytest.raises(AuthError) as unknown:
        store.check(token + "x", "device-1")
    assert str(wrong_device.value) == str(unknown.value), "a refusal never tells a valid token from an invalid one"
    assert b"device-1" not in (tmp_path / "u.db").read_bytes()


def test_fingerprint_given_at_add_rotate_and_remove(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "u.db", BOX)
    token = store.add("bob", fingerprint="phone")
    with pytest.raises(AuthError):
        store.check(token, "laptop")
    assert store.check(token, "phone").credentials is None
    with pytest.raises(ValueError, match="already exists"):
        store.add("bob")
    with pytest.raises(ValueError, match="invalid user name"):
        store.add("bob smith")
    with pytest.raises(ValueError, match="both"):
        store.add("carol", api_key="k")
    new = store.rotate("bob")
    with pytest.raises(AuthError):
        store.check(token, "phone")
    assert store.check(new, "laptop").user == "bob"
    [info] = store.list()
    assert (info.name, info.has_credentials, info.fingerprint_bound) == ("bob", False, True)
    assert store.remove("bob") and not store.remove("bob")
    with pytest.raises(AuthError):
        store.check(new, "laptop")


def _jwt(claims: dict[str, object], key: str = SHARED, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


async def test_jwt_verifier_checks_signature_time_and_fingerprint(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "u.db", BOX)
    store.add("alice", ALICE_KEY, ALICE_SECRET)
    verifier = JWTVerifier(SHARED, audience="rxbybit", credentials=store.credentials)
    now = int(time.time())
    good = _jwt({"sub": "alice", "aud": "rxbybit", "exp": now + 60, "fpt": "dev-1"})
    ident = await verifier.verify(good, "dev-1")
    assert ident.user == "alice" and ident.credentials is not None and ident.credentials.api_key == ALICE_KEY
    stranger = await verifier.verify(_jwt({"sub": "zed", "aud": "rxbybit", "exp": now + 60}), "any")
    assert stranger.user == "zed" and stranger.credentials is None
    refused = {
        "fingerprint": (good, "dev-2", "another device"),
        "expired": (_jwt({"sub": "alice", "aud": "rxbybit", "exp": now - 5}), "dev-1", "expired"),
        "signature": (_jwt({"sub": "alice", "aud": "rxbybit", "exp": now + 60}, key=OTHER),
                      "dev-1", "InvalidSignatureError"),
        "audience": (_jwt({"sub": "alice", "aud": "else", "exp": now + 60}), "dev-1", "Audience"),
        "no exp": (_jwt({"sub": "alice", "aud": "rxbybit"}), "dev-1", "MissingRequiredClaim"),
        "alg none": (jwt.encode({"sub": "alice", "aud": "rxbybit", "exp": now + 60}, None, algorithm="none"),
                     "dev-1", "refused"),
        "garbage": ("not.a.jwt", "dev-1", "refused"),
    }
    for name, (token, fp, words) in refused.items():
        with pytest.raises(AuthError, match=words):
            await verifier.verify(token, fp)
        try:
            await verifier.verify(token, fp)
        except AuthError as exc:
            assert token not in str(exc), f"{name}: the error must not echo the token"
    strict = JWTVerifier(SHARED, require_fingerprint=True)
    with pytest.raises(AuthError, match="fingerprint"):
        await strict.verify(_jwt({"sub": "alice", "exp": now + 60}), "dev-1")
    with pytest.raises(ValueError, match="none"):
        JWTVerifier(SHARED, algorithms=("none",))


def test_users_cli_prints_the_token_once_and_never_the_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RXBYBIT_GATEWAY_KEY", OPERATOR_KEY)
    db = str(tmp_path / "cli.db")
    assert cli_main(["gateway", "users", "--db", db, "add", "alice", "--api-key", ALICE_KEY,
                     "--api-secret", ALICE_SECRET]) == 0
    out = capsys.readouterr().out
    token = out.strip().splitlines()[-1]
    assert UserStore(db, BOX).check(token, "fp").user == "alice"
    assert cli_main(["gateway", "users", "--db", db, "list"]) == 0
    listing = capsys.readouterr().out
    assert "alice" in listing and ALICE_SECRET not in listing and token not in listing
    assert "fingerprint bound" in listing
    assert cli_main(["gateway", "users", "--db", db, "add", "alice"]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and err.count("\n") == 1, "one clear line"
    assert cli_main(["gateway", "users", "--db", db, "remove", "alice"]) == 0
    assert cli_main(["gateway", "users", "--db", db, "remove", "alice"]) == 2


async def test_authorization_over_the_gateway(gateway: Gateway, store: UserStore, client: Client) -> None:
    token = store.add("alice", ALICE_KEY, ALICE_SECRET)
    bad = await client.request("authorization", {"accessToken": "wrong", "fingerprint": "fp-1"})
    assert bad["code"] == ErrorCode.AUTH_FAILED and "wrong" not in bad["message"]
    ok = await client.request("authorization", {"accessToken": token, "fingerprint": "fp-1"})
    assert ok == {"type": "ack", "path": "/authorization", "id": ok["id"],
                  "data": {"user": "alice", "privateStreams": True}}
    again = await client.request("/authorization", {"accessToken": token, "fingerprint": "fp-1"})
    assert again["type"] == "ack"
    store.add("bob")
    other = await open_client(gateway)
    try:
        stolen = await other.request("authorization", {"accessToken": token, "fingerprint": "fp-2"})
        assert stolen["code"] == ErrorCode.AUTH_FAILED and stolen["message"] == bad["message"], \
            "a token bound to another device is refused in the same words as an unknown one"
    finally:
        await other.close()


async def test_token_guessing_closes_the_connection(gateway: Gateway) -> None:
    c = await open_client(gateway)
    try:
        codes = []
        for i in range(gateway.limits.max_auth_failures):
            codes.append((await c.request("authorization", {"accessToken": f"guess{i}", "fingerprint": "f"}))["code"])
        assert codes == [ErrorCode.AUTH_FAILED] * len(codes)
        assert "too many failures" in c.seen[-1]["message"]
        await c.ws.wait_closed()
        assert c.ws.close_code == 1008
    finally:
        await c.close()


async def test_gateway_with_jwt_verifier(store: UserStore) -> None:
    from .conftest import SIM_OPTIONS, TEST_SYMBOLS

    store.add("alice", ALICE_KEY, ALICE_SECRET)
    verifier = JWTVerifier(SHARED, credentials=store.credentials)
    async with Gateway("sim", verifier=verifier, symbols=TEST_SYMBOLS, sim_options=SIM_OPTIONS) as gw:
        c = await open_client(gw)
        try:
            token = _jwt({"sub": "alice", "exp": int(time.time()) + 60, "fpt": "fp"})
            ok = await c.request("authorization", {"accessToken": token, "fingerprint": "fp"})
            assert ok["data"] == {"user": "alice", "privateStreams": True}
        finally:
            await c.close()


def test_store_verifier_repr_has_no_secret(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "u.db", BOX)
    store.add("alice", ALICE_KEY, ALICE_SECRET)
    assert ALICE_SECRET not in repr(StoreVerifier(store)) and ALICE_SECRET not in repr(store.list())
