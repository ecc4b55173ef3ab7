"""The REST client on its own: the signature against a fixed vector, the envelope, typed errors,
retries and rate-limit headers, with httpx's mock transport (no server)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from rxbybit.errors import (
    AuthenticationError,
    ExchangeError,
    ExchangeUnreachableError,
    RateLimitError,
    RestError,
    RestUnavailableError,
    TradeError,
)
from rxbybit.protocol import rest as R
from rxbybit.protocol.signing import Credentials
from rxbybit.rest import RestClient, RetryPolicy, http_base

KEY, SECRET = "XXXXXXXXXX", "YYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYY"


def test_signature_matches_a_fixed_vector() -> None:
    """HMAC-SHA256 over timestamp + key + recv_window + query string; the expected hex was computed
    outside Python (``openssl dgst -sha256 -hmac``)."""
    payload = "category=option&symbol=BTC-29JUL22-25000-C"
    assert R.sign_payload(1658384314791, KEY, 5000, payload) == f"1658384314791{KEY}5000{payload}"
    assert R.rest_signature(SECRET, 1658384314791, KEY, 5000, payload) == (
        "49c26b0f76e0bec6b926f119814d66c4bdf59de44adf2a1864b1ea0bfd9c710c")
    headers = R.signed_headers(KEY, SECRET, 1658384314791, payload)
    assert headers[R.H_SIGN] == R.rest_signature(SECRET, 1658384314791, KEY, 5000, payload)
    assert headers[R.H_RECV_WINDOW] == "5000" and headers[R.H_TIMESTAMP] == "1658384314791"


def test_query_string_keeps_order_and_drops_none() -> None:
    assert R.query_string({"category": "linear", "symbol": None, "limit": 5, "x": True}) == (
        "category=linear&limit=5&x=true")


def test_timestamp_window_is_bybits() -> None:
    assert R.timestamp_problem(10_000, 5_000, 15_000) is None
    assert R.timestamp_problem(9_999, 5_000, 15_000) is not None
    assert R.timestamp_problem(15_999, 5_000, 15_000) is None
    assert R.timestamp_problem(16_000, 5_000, 15_000) is not None


def test_http_base_of_socket_urls() -> None:
    assert http_base("ws://127.0.0.1:8765") == "http://127.0.0.1:8765"
    assert http_base("wss://stream.example/") == "https://stream.example"
    with pytest.raises(ValueError, match="base URL"):
        http_base("ftp://x")


Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler, attempts: int = 3, credentials: Credentials | None = None) -> RestClient:
    return RestClient("https://api.test", transport=httpx.MockTransport(handler), credentials=credentials,
                      retry=RetryPolicy(attempts=attempts, base=0.001, cap=0.01), clock=lambda: 1_700_000_000_000,
                      seed=1)


def ok(result: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, json=R.envelope(result, 1), headers=headers)


async def test_result_is_returned_and_the_signed_request_carries_the_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok({"list": [{"coin": []}]}, R.rate_limit_headers(R.RateLimit(50, 49, 1_700_000_001_000)))

    async with client(handler, credentials=Credentials(KEY, SECRET)) as c:
        wallet = await c.wallet_balance()
    assert wallet == {"coin": []}
    req = seen[0]
    assert req.url.path == R.WALLET and req.url.query == b"accountType=UNIFIED"
    assert req.headers[R.H_API_KEY] == KEY
    assert req.headers[R.H_SIGN] == R.rest_signature(SECRET, 1_700_000_000_000, KEY, 5000, "accountType=UNIFIED")
    assert c.rate_limits[R.WALLET] == R.RateLimit(50, 49, 1_700_000_001_000)
    assert SECRET not in repr(c)


async def test_a_nonzero_retcode_raises_the_trade_apis_error_family() -> None:
    async with client(lambda r: httpx.Response(200, json=R.envelope({}, 1, 10001, "params error: x"))) as c:
        with pytest.raises(RestError) as info:
            await c.tickers("linear", "BTCUSDT")
    assert info.value.code == 10001 and "params error" in str(info.value) and R.TICKERS in str(info.value)
    assert isinstance(info.value, ExchangeError) and issubclass(TradeError, ExchangeError)
    assert c.requests == 1, "a params error is not retried"


async def test_auth_codes_raise_authentication_error() -> None:
    handler = lambda r: httpx.Response(200, json=R.envelope({}, 1, 10004, "error sign!"))  # noqa: E731
    async with client(handler, credentials=Credentials(KEY, SECRET)) as c:
        with pytest.raises(AuthenticationError, match="10004"):
            await c.wallet_balance()
    assert c.requests == 1


async def test_rate_limit_is_typed_with_its_reset_and_retried() -> None:
    answers = [httpx.Response(200, json=R.envelope({}, 1, 10006, "Too many visits!"),
                              headers=R.rate_limit_headers(R.RateLimit(10, 0, 1_700_000_000_005))),
               httpx.Response(429, text="slow down"),
               ok({"list": [{"symbol": "BTCUSDT"}]})]
    async with client(lambda r: answers.pop(0)) as c:
        rows = await c.tickers("linear")
    assert rows == [{"symbol": "BTCUSDT"}] and c.retries == 2

    async with client(lambda r: httpx.Response(403, text="access too frequent"), attempts=2) as c:
        with pytest.raises(RateLimitError) as info:
            await c.tickers("linear")
    assert info.value.status == 403 and c.requests == 2


async def test_server_errors_and_timeouts_are_retried_then_typed() -> None:
    answers: list[httpx.Response | Exception] = [httpx.Response(502, text="bad gateway"),
                                                 httpx.ConnectError("refused"), ok({"list": []})]

    def handler(request: httpx.Request) -> httpx.Response:
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    async with client(handler) as c:
        assert await c.tickers("linear") == []
    assert c.retries == 2

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with client(slow, attempts=2) as c:
        with pytest.raises(RestUnavailableError, match="no answer in time") as info:
            await c.tickers("linear")
    assert isinstance(info.value, ExchangeUnreachableError) and c.requests == 2


async def test_an_answer_that_is_not_an_envelope_is_an_error() -> None:
    async with client(lambda r: httpx.Response(200, text="<html>maintenance</html>")) as c:
        with pytest.raises(RestError, match="not Bybit's envelope"):
            await c.tickers("linear")
    async with client(lambda r: httpx.Response(404, text="nope")) as c:
        with pytest.raises(RestError) as info:
            await c.tickers("linear")
    assert info.value.status == 404 and c.requests == 1


async def test_paging_follows_the_cursor_and_stops_on_a_repeat() -> None:
    pages = {"": ({"list": [1, 2], "nextPageCursor": "a"}), "a": {"list": [3], "nextPageCursor": "b"},
             "b": {"list": [4], "nextPageCursor": "a"}}

    def handler(request: httpx.Request) -> httpx.Response:
        return ok(pages[request.url.params.get("cursor", "")])

    async with client(handler) as c:
        assert await c.get_paged("/v5/market/instruments-info", {"category": "linear"}) == [1, 2, 3, 4]


async def test_private_read_without_keys_says_what_to_do() -> None:
    from rxbybit.errors import MissingCredentialsError

    async with client(lambda r: ok({"list": []})) as c:
        with pytest.raises(MissingCredentialsError, match="api_key"):
            await c.open_orders("linear")
        assert c.requests == 0


async def test_each_network_has_its_rest_host() -> None:
    import rxbybit as rb

    for network, host in (("mainnet", "https://api.bybit.com"), ("testnet", "https://api-testnet.bybit.com"),
                          ("demo", "https://api-demo.bybit.com"), ("ws://127.0.0.1:8765", "http://127.0.0.1:8765")):
        bybit = rb.Bybit(network)
        try:
            assert http_base(await bybit.rest.base_url()) == host
        finally:
            await bybit.close()


async def test_demo_reads_market_data_from_mainnet_and_the_account_from_demo() -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return ok({"list": [{}]})

    async with RestClient("https://api-demo.bybit.com", public_base_url="https://api.bybit.com",
                          credentials=Credentials(KEY, SECRET), transport=httpx.MockTransport(handler)) as c:
        await c.tickers("linear", "BTCUSDT")
        await c.wallet_balance()
    assert hosts == ["api.bybit.com", "api-demo.bybit.com"]
