"""``rxbybit gateway``: serve the gateway, and manage its users.

::

    rxbybit gateway keygen                                       # a key for RXBYBIT_GATEWAY_KEY
    rxbybit gateway --port 8700 --network sim --db users.db      # serve (same as 'gateway serve ...')
    rxbybit gateway users add alice --api-key K --api-secret S   # prints alice's access token once
    rxbybit gateway users list | remove NAME | rotate NAME | set-keys NAME | rekey

Bybit secrets are stored encrypted with the operator's key (``$RXBYBIT_GATEWAY_KEY``, or a file
named by ``--key-file`` / ``$RXBYBIT_GATEWAY_KEY_FILE``). Every error is one line on standard error
and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import ipaddress
import logging
import os
import sys
from typing import Any

import platformdirs

from ..protocol import topics as T
from ..protocol.endpoints import validate_category
from .auth import TokenVerifier
from .limits import SERVED_MAX_LOOP_LAG, Limits
from .server import DEFAULT_SYMBOLS, Gateway
from .users import StoreVerifier, UserStore
from .vault import KEY_ENV, KEY_FILE_ENV, MissingKeyError, generate_key, load_box

DB_ENV = "RXBYBIT_GATEWAY_DB"
JWT_ENV = "RXBYBIT_GATEWAY_JWT_SECRET"
DEFAULT_DB = os.path.join(platformdirs.user_data_dir("rxbybit", appauthor=False), "gateway.db")
"""The user database's default place: the user's data directory, never the current directory."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the gateway's options and its ``serve`` / ``users`` subcommands to ``parser``."""
    _serve_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="gateway_command", metavar="{serve,users,keygen}")
    sub.add_parser("keygen", help=f"print a new encryption key for ${KEY_ENV}",
                   description=f"print a new encryption key for ${KEY_ENV} (or a file named by ${KEY_FILE_ENV})")
    serve = sub.add_parser("serve", help="serve the gateway (the default)", description="serve the gateway")
    _serve_options(serve, suppress=True)
    users = sub.add_parser("users", help="manage users and their access tokens",
                           description="manage users and their access tokens")
    _db_option(users, suppress=True)
    _key_option(users, suppress=True)
    actions = users.add_subparsers(dest="users_command", metavar="{add,list,remove,rotate,set-keys,rekey}",
                                   required=True)
    add = actions.add_parser("add", help="add a user and print their new access token (once)")
    add.add_argument("name")
    add.add_argument("--api-key", help="the user's Bybit API key (for private streams and /user/profile)")
    add.add_argument("--api-secret", help="the Bybit API secret; '-' reads it from standard input")
    add.add_argument("--fingerprint", help="bind the token to this device fingerprint now (default: on first use)")
    actions.add_parser("list", help="list users (never tokens or secrets)")
    remove = actions.add_parser("remove", help="remove a user (their token stops working)")
    remove.add_argument("name")
    rotate = actions.add_parser("rotate", help="issue a new access token for a user (the old one stops working)")
    rotate.add_argument("name")
    rotate.add_argument("--fingerprint")
    keys = actions.add_parser("set-keys", help="replace a user's Bybit keys (omit both to drop them); live "
                                               "sessions move to the new keys within seconds")
    keys.add_argument("name")
    keys.add_argument("--api-key")
    keys.add_argument("--api-secret", help="'-' reads it from standard input")
    actions.add_parser("rekey", help="re-encrypt every stored Bybit secret with the first key of the key list")


add_gateway_arguments = add_arguments


def _db_option(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else os.environ.get(DB_ENV, DEFAULT_DB)
    parser.add_argument("--db", default=default, metavar="FILE",
                        help=f"SQLite user database (default ${DB_ENV} or {DEFAULT_DB})")


def _key_option(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument("--key-file", default=default, metavar="FILE",
                        help=f"file holding the key(s) that encrypt stored Bybit secrets (default ${KEY_FILE_ENV}, "
                             f"else the key in ${KEY_ENV})")


def _serve_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--host", default=default("127.0.0.1"), help="interface to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=default(8700), help="port (default 8700; 0 picks a free one)")
    parser.add_argument("--network", default=default("sim"),
                        help="upstream: sim (embedded simulator, the default), mainnet, testnet or a base URL")
    _db_option(parser, suppress)
    _key_option(parser, suppress)
    parser.add_argument("--jwt-secret-env", default=default(None), metavar="VAR",
                        help=f"verify JWT access tokens (HS256) with the secret in environment variable VAR "
                             f"(e.g. {JWT_ENV}) instead of the user database's tokens")
    parser.add_argument("--jwt-audience", default=default(None))
    parser.add_argument("--jwt-issuer", default=default(None))
    parser.add_argument("--jwt-require-fingerprint", action="store_true", default=default(False),
                        help="refuse JWTs without a fingerprint claim ('fpt')")
    parser.add_argument("--allow-origin", action="append", default=default([]), metavar="ORIGIN",
                        help="also accept browser pages from ORIGIN (e.g. https://app.example.com; '*' for any); "
                             "same-origin and loopback pages are always accepted")
    parser.add_argument("--allow-host", action="append", default=default(None), metavar="HOST",
                        help="accept only these Host names (default: loopback names when bound to loopback, "
                             "else any)")
    parser.add_argument("--max-connections", type=int, default=default(None), metavar="N",
                        help="open connections in total (default 10000)")
    parser.add_argument("--max-connections-per-address", type=int, default=default(None), metavar="N",
                        help="open connections from one address (default 64)")
    parser.add_argument("--max-loop-lag", type=float, default=default(None), metavar="SECONDS",
                        help="refuse new connections (HTTP 503) while the event loop keeps running this far "
                             f"behind (default {SERVED_MAX_LOOP_LAG}; 0: never)")
    parser.add_argument("--symbols", default=default(None),
                        help="symbols for /symbols as CATEGORY:SYMBOL,... (default: "
                             + ",".join(f"{c}:{s}" for c, s in DEFAULT_SYMBOLS) + ")")
    parser.add_argument("--seed", type=int, default=default(0), help="simulator seed (network sim)")
    parser.add_argument("--bus", default=default(None), metavar="REDIS_URL",
                        help="run as one replica of a set sharing one upstream through Redis, e.g. "
                             "redis://127.0.0.1:6379 (see docs/scaling.md)")
    parser.add_argument("-v", "--verbose", action="store_true", default=default(False))


def parse_symbols(text: str) -> list[tuple[T.Category, str]]:
    """``"linear:BTCUSDT,spot:ETHUSDT"`` as (category, symbol) pairs; raises ValueError naming the bad one."""
    out: list[tuple[T.Category, str]] = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        category, sep, symbol = item.partition(":")
        if not sep:
            raise ValueError(f"symbol {item!r} needs a category, e.g. linear:{item}")
        out.append((validate_category(category), T.validate_symbol(symbol)))
    if not out:
        raise ValueError("--symbols names no symbol")
    return out


def run(args: argparse.Namespace) -> int:
    """Run ``rxbybit gateway ...``; returns the exit status (2, after one line on stderr, for an error)."""
    command = getattr(args, "gateway_command", None)
    if command == "keygen":
        print(generate_key())
        return 0
    if command == "users":
        return _users(args)
    return _serve(args)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _store(args: argparse.Namespace) -> UserStore:
    return UserStore(_db_path(args.db), load_box(getattr(args, "key_file", None)))


def _db_path(path: str) -> str:
    """``path``, with its directory made when it is the default one in the user's data directory."""
    if path == DEFAULT_DB:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


run_gateway = run


def _users(args: argparse.Namespace) -> int:
    try:
        store = _store(args)
        if args.users_command == "add":
            secret = args.api_secret
            if secret == "-":
                secret = sys.stdin.readline().strip()
            token = store.add(args.name, args.api_key, secret, args.fingerprint)
            print(f"user {args.name!r} added. Access token (shown once, store it now):")
            print(token)
        elif args.users_command == "rotate":
            token = store.rotate(args.name, args.fingerprint)
            print(f"new access token for {args.name!r} (the old one no longer works):")
            print(token)
        elif args.users_command == "remove":
            if not store.remove(args.name):
                return _fail(f"no user named {args.name!r}")
            print(f"user {args.name!r} removed; their open sessions end within seconds")
        elif args.users_command == "set-keys":
            secret = args.api_secret
            if secret == "-":
                secret = sys.stdin.readline().strip()
            store.set_keys(args.name, args.api_key, secret)
            print(f"Bybit keys of {args.name!r} {'replaced' if args.api_key else 'removed'}")
        elif args.users_command == "rekey":
            count = store.rekey()
            print(f"{count} stored Bybit secret(s) re-encrypted with the first key")
        else:
            rows = store.list()
            if not rows:
                print(f"no users in {store.path}; add one with 'rxbybit gateway users add NAME'")
            for u in rows:
                keys = f"bybit key {u.api_key_hint}" if u.has_credentials else "no bybit keys"
                bound = "fingerprint bound" if u.fingerprint_bound else "fingerprint not yet bound"
                print(f"{u.name}\t{keys}\t{bound}")
    except (ValueError, KeyError, ImportError, OSError) as exc:
        return _fail(str(exc.args[0] if exc.args else exc))
    return 0


def _verifier(args: argparse.Namespace) -> TokenVerifier:
    store = _store(args)
    plain = store.plain_secrets()
    if plain:
        if store.box is None:
            raise MissingKeyError(f"the user database holds {plain} unencrypted Bybit secret(s); encrypting them")
        store.rekey()
        logging.getLogger("rxbybit.gateway").warning("encrypted %d Bybit secret(s) stored in plain text", plain)
    if store.box is None and any(u.has_credentials for u in store.list()):
        raise MissingKeyError("serving users with Bybit keys")
    if args.jwt_secret_env:
        secret = os.environ.get(args.jwt_secret_env)
        if not secret:
            raise ValueError(f"environment variable {args.jwt_secret_env} is empty or not set")
        from .jwt_auth import JWTVerifier

        return JWTVerifier(secret, audience=args.jwt_audience, issuer=args.jwt_issuer, credentials=store.credentials,
                           require_fingerprint=args.jwt_require_fingerprint)
    return StoreVerifier(store)


def _limits(args: argparse.Namespace) -> Limits:
    changes = {}
    for name in ("max_connections", "max_connections_per_address"):
        value = getattr(args, name, None)
        if value is not None:
            if value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
            changes[name] = value
    lag = getattr(args, "max_loop_lag", None)
    if lag is not None and lag < 0:
        raise ValueError("--max-loop-lag must be 0 (never refuse) or more seconds")
    changes["max_loop_lag"] = SERVED_MAX_LOOP_LAG if lag is None else (lag or None)
    return dataclasses.replace(Limits(), **changes)


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        symbols = parse_symbols(args.symbols) if args.symbols else list(DEFAULT_SYMBOLS)
        verifier = _verifier(args)
        limits = _limits(args)
    except (ValueError, ImportError, OSError) as exc:
        return _fail(str(exc))
    if not _is_loopback(args.host):
        print(f"warning: binding {args.host}: the gateway is reachable from other machines; put it behind TLS",
              file=sys.stderr)
    if args.bus and args.network == "sim":
        print("warning: with --bus every replica needs the same upstream; --network sim gives each its own "
              "simulator (run 'rxbybit sim' once and pass --network ws://HOST:PORT)", file=sys.stderr)
    sim_options = {"host": "127.0.0.1", "port": 0, "seed": args.seed}
    gateway = Gateway(args.network, host=args.host, port=args.port, verifier=verifier, symbols=symbols,
                      sim_options=sim_options, limits=limits, allowed_origins=args.allow_origin or (),
                      allowed_hosts=args.allow_host, bus=args.bus)

    async def main() -> None:
        async with gateway:
            label = " (SIMULATED market data)" if args.network == "sim" else ""
            print(f"rxbybit gateway on {gateway.url}{label}; try it at {gateway.http_url}", flush=True)
            await gateway.serve_forever()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        return _fail(f"cannot serve on {args.host}:{args.port}: {exc}")
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
