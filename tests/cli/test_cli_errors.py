"""Bad arguments give one clear line naming what was wrong and what is allowed, and exit status 2;
the gateway's database defaults to the user's data directory."""

from __future__ import annotations

import os

import pytest

from rxbybit.cli import main

BAD = [
    (["demo", "--depth", "7"], "depth 7", "1, 50, 200, 1000"),
    (["demo", "--network", "foonet"], "unknown network 'foonet'", "ws://"),
    (["demo", "--fps", "0"], "--fps", "above 0"),
    (["demo", "--tick-size", "abc"], "tick size", "number"),
    (["tail", "foo.bar"], "unknown topic 'foo.bar'", "publicTrade.BTCUSDT"),
    (["tail", "publicTrade.BTCUSDT", "--count", "x"], "--count", "whole number"),
    (["record", "publicTrade.BTCUSDT", "-o", "/nonexistent/x.jsonl"], "/nonexistent", "does not exist"),
    (["sim", "--replay", "missing.jsonl"], "missing.jsonl", "rxbybit record"),
    (["nosuchcommand"], "invalid choice", "demo"),
]


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse exits by itself
        return int(exc.code or 0)


@pytest.mark.parametrize(("argv", "what", "allowed"), BAD, ids=[" ".join(a) for a, _, _ in BAD])
def test_a_bad_argument_is_one_line_and_exit_2(argv: list[str], what: str, allowed: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert what in lines[0] and allowed in lines[0] and "Traceback" not in err


def test_the_gateway_database_lives_in_the_users_data_directory() -> None:
    from rxbybit.gateway import cli as gateway_cli

    assert os.path.isabs(gateway_cli.DEFAULT_DB)
    assert os.path.dirname(gateway_cli.DEFAULT_DB) != os.getcwd()
    assert "rxbybit" in gateway_cli.DEFAULT_DB
