"""Script/notebook runtime helpers, backoff policy, networks and secrets hygiene."""

from __future__ import annotations

import asyncio
import random

import pytest

import rxbybit as rb
from rxbybit.errors import BlockingCallError
from rxbybit.protocol.signing import Credentials
from rxbybit.transport import exponential_backoff, resolve


def test_run_executes_a_coroutine() -> None:
    async def main() -> int:
        await asyncio.sleep(0)
        return 42

    assert rb.run(main()) == 42


async def test_blocking_helpers_inside_a_running_loop_point_to_await() -> None:
    async def main() -> int:
        return 1

    with pytest.raises(BlockingCallError, match="await"):
        rb.run(main())
    with pytest.raises(BlockingCallError, match="await"):
        rb.wait(main())


def test_wait_blocks_outside_a_loop() -> None:
    async def main() -> str:
        return "done"

    assert rb.wait(main(), timeout=5) == "done"


def test_backoff_grows_exponentially_with_jitter_and_caps() -> None:
    delays = exponential_backoff(initial=1, factor=2, maximum=10, jitter=0.5, rng=random.Random(1))()
    got = [next(delays) for _ in range(8)]
    bases = [1, 2, 4, 8, 10, 10, 10, 10]
    for d, base in zip(got, bases, strict=True):
        assert base * 0.5 <= d <= base


def test_backoff_can_be_bounded() -> None:
    assert len(list(exponential_backoff(max_attempts=3)())) == 3
    with pytest.raises(ValueError, match="jitter"):
        exponential_backoff(jitter=2)


def test_networks_resolve_and_demo_has_no_trade_api() -> None:
    assert resolve("mainnet").url("linear") == "wss://stream.bybit.com/v5/public/linear"
    assert resolve("testnet").url("private") == "wss://stream-testnet.bybit.com/v5/private"
    assert resolve("demo").url("private") == "wss://stream-demo.bybit.com/v5/private"
    assert resolve("ws://127.0.0.1:9").url("trade") == "ws://127.0.0.1:9/v5/trade"
    with pytest.raises(ValueError, match=r"not available on the demo"):
        resolve("demo").url("trade")
    with pytest.raises(ValueError, match=r"sim"):
        resolve("moon")


def test_secrets_never_show_in_reprs() -> None:
    creds = Credentials("KEY123456", "SUPER-SECRET")
    assert "SUPER-SECRET" not in repr(creds) and "SUPER-SECRET" not in str(creds)
    client = rb.Bybit("ws://127.0.0.1:9", api_key="KEY123456", api_secret="SUPER-SECRET")
    assert "SUPER-SECRET" not in repr(client)
    assert "SUPER-SECRET" not in repr(vars(client))


def test_client_validates_arguments_before_any_io() -> None:
    client = rb.Bybit("ws://127.0.0.1:9")
    with pytest.raises(ValueError, match="depth"):
        client.orderbook("BTCUSDT", depth=30)
    with pytest.raises(ValueError, match="upper-case"):
        client.trades("btcusdt")
    with pytest.raises(rb.errors.MissingCredentialsError, match="api_key"):
        client.orders()
    with pytest.raises(ValueError, match="both api_key and api_secret"):
        rb.Bybit("ws://127.0.0.1:9", api_key="k")
