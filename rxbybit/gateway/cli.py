"""``rxbybit gateway``: serve the gateway, and manage its users.

::

    rxbybit gateway --port 8700 --network sim --db users.db      # serve (same as 'gateway serve ...')
    rxbybit gateway users add alice --api-key K --api-secret S   # prints alice's access token once
    rxbybit gateway users list | remove NAME | rotate NAME
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import sys
from typing import Any

from ..protocol import topics as T
from ..protocol.endpoints import validate_category
from .auth import TokenVerifier
from .server import DEFAULT_SYMBOLS, Gateway
from .users import StoreVerifier, UserStore

DB_ENV = "RXBYBIT_GATEWAY_DB"
JWT_ENV = "RXBYBIT_GATEWAY_JWT_SECRET"
DEFAULT_DB = "rxbybit-gateway.db"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the gateway's options and its ``serve`` / ``users`` subcommands to ``parser``."""
    _serve_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="gateway_command", metavar="{serve,users}")
    serve = sub.add_parser("serve", help="serve the gateway (the default)", description="serve the gateway")
    _serve_options(serve, suppress=True)
    users = sub.add_parser("users", help="manage users and their access tokens",
                           description="manage users and their access tokens")
    _db_option(users, suppress=True)
    actions = users.add_subparsers(dest="users_command", metavar="{add,list,remove,rotate}", required=True)
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


add_gateway_arguments = add_arguments


def _db_option(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else os.environ.get(DB_ENV, DEFAULT_DB)
    parser.add_argument("--db", default=default, metavar="FILE",
                        help=f"SQLite user database (default ${DB_ENV} or {DEFAULT_DB})")


def _serve_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--host", default=default("127.0.0.1"), help="interface to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=default(8700), help="port (default 8700; 0 picks a free one)")
    parser.add_argument("--network", default=default("sim"),
                        help="upstream: sim (embedded simulator, the default), mainnet, testnet or a base URL")
    _db_option(parser, suppress)
    parser.add_argument("--jwt-secret-env", default=default(None), metavar="VAR",
                        help=f"verify JWT access tokens (HS256) with the secret in environment variable VAR "
                             f"(e.g. {JWT_ENV}) instead of the user database's tokens")
    parser.add_argument("--jwt-audience", default=default(None))
    parser.add_argument("--jwt-issuer", default=default(None))
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
    """Run ``rxbybit gateway ...``; returns the exit status."""
    if getattr(args, "gateway_command", None) == "users":
        return _users(args)
    return _serve(args)


run_gateway = run


def _users(args: argparse.Namespace) -> int:
    store = UserStore(args.db)
    try:
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
                print(f"no user named {args.name!r}", file=sys.stderr)
                return 1
            print(f"user {args.name!r} removed")
        else:
            rows = store.list()
            if not rows:
                print(f"no users in {store.path}; add one with 'rxbybit gateway users add NAME'")
            for u in rows:
                keys = f"bybit key {u.api_key_hint}" if u.has_credentials else "no bybit keys"
                bound = "fingerprint bound" if u.fingerprint_bound else "fingerprint not yet bound"
                print(f"{u.name}\t{keys}\t{bound}")
    except (ValueError, KeyError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    return 0


def _verifier(args: argparse.Namespace) -> TokenVerifier:
    store = UserStore(args.db)
    if args.jwt_secret_env:
        secret = os.environ.get(args.jwt_secret_env)
        if not secret:
            raise ValueError(f"environment variable {args.jwt_secret_env} is empty or not set")
        from .jwt_auth import JWTVerifier

        return JWTVerifier(secret, audience=args.jwt_audience, issuer=args.jwt_issuer, credentials=store.credentials)
    return StoreVerifier(store)


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        symbols = parse_symbols(args.symbols) if args.symbols else list(DEFAULT_SYMBOLS)
        verifier = _verifier(args)
    except (ValueError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not _is_loopback(args.host):
        print(f"warning: binding {args.host}: the gateway is reachable from other machines; put it behind TLS",
              file=sys.stderr)
    if args.bus and args.network == "sim":
        print("warning: with --bus every replica needs the same upstream; --network sim gives each its own "
              "simulator (run 'rxbybit sim' once and pass --network ws://HOST:PORT)", file=sys.stderr)
    sim_options = {"host": "127.0.0.1", "port": 0, "seed": args.seed}
    gateway = Gateway(args.network, host=args.host, port=args.port, verifier=verifier, symbols=symbols,
                      sim_options=sim_options, bus=args.bus)

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
        print(f"error: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
