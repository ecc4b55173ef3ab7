"""Topics (build/parse/validate, endpoint paths), request frames, limits and the auth signature."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from rxbybit.protocol import endpoints, requests, sign, topics, verify

# --------------------------------------------------------------------------- topics


@pytest.mark.parametrize(
    ("topic", "endpoint", "kind", "symbol", "path"),
    [
        ("orderbook.1000.BTCUSDT", "linear", "orderbook", "BTCUSDT", "/v5/public/linear"),
        ("orderbook.50.BTCUSDT", "spot", "orderbook", "BTCUSDT", "/v5/public/spot"),
        ("orderbook.200.BTCUSD", "inverse", "orderbook", "BTCUSD", "/v5/public/inverse"),
        ("orderbook.25.BTC-6JAN23-18000-C", "option", "orderbook", "BTC-6JAN23-18000-C", "/v5/public/option"),
        ("publicTrade.BTC", "option", "publicTrade", "BTC", "/v5/public/option"),
        ("kline.D.ETHUSDT", "linear", "kline", "ETHUSDT", "/v5/public/linear"),
        ("allLiquidation.ROSEUSDT", "linear", "allLiquidation", "ROSEUSDT", "/v5/public/linear"),
        ("execution.fast.linear", "private", "private", None, "/v5/private"),
        ("orderbook.40.BTCUSDT", "spot_v3_public", "orderbook", "BTCUSDT", "/spot/public/v3"),
        ("kline.1h.BTCUSDT", "spot_v3_public", "kline", "BTCUSDT", "/spot/public/v3"),
        ("bookticker.BTCUSDT", "spot_v3_public", "bookticker", "BTCUSDT", "/spot/public/v3"),
        ("stopOrder", "spot_v3_private", "private", None, "/spot/private/v3"),
    ],
)
def test_parse_valid_topics(topic: str, endpoint: topics.Endpoint, kind: str, symbol: str | None, path: str) -> None:
    t = topics.parse(topic, endpoint)
    assert (t.name, t.kind, t.symbol, t.path) == (topic, kind, symbol, path)


@pytest.mark.parametrize(
    ("topic", "endpoint", "must_name"),
    [
        ("orderbook.500.BTCUSDT", "linear", "1, 50, 200, 1000"),  # removed in 2025-09
        ("orderbook.50.BTC-6JAN23-18000-C", "option", "25, 100"),
        ("orderbook.50.btcusdt", "linear", "upper-case"),
        ("kline.2.BTCUSDT", "linear", "1, 3, 5"),
        ("kline.1.BTC-6JAN23-18000-C", "option", "option"),
        ("allLiquidation.BTCUSDT", "spot", "linear and inverse"),
        ("wallets", "private", "wallet"),
        ("orderbook.200.BTCUSDT", "spot_v3_public", "depth 40 only"),
        ("kline.1.BTCUSDT", "spot_v3_public", "1m, 3m"),
        ("executionReport", "spot_v3_private", "outboundAccountInfo"),
        ("order.create", "trade", "trade endpoint"),
        ("funding.BTCUSDT", "linear", "orderbook.{depth}"),
        ("", "linear", "non-empty"),
    ],
)
def test_bad_topics_raise_value_error_naming_allowed_values(topic: str, endpoint: topics.Endpoint,
                                                            must_name: str) -> None:
    with pytest.raises(ValueError) as info:
        topics.parse(topic, endpoint)
    assert must_name in str(info.value)


def test_builders_validate_and_map_categories() -> None:
    assert topics.orderbook("BTCUSDT", 200, "spot").name == "orderbook.200.BTCUSDT"
    assert topics.public_trade("BTC-6JAN23-18000-C", "option").name == "publicTrade.BTC"
    assert topics.kline("BTCUSDT", 60, "inverse").name == "kline.60.BTCUSDT"
    assert topics.tickers("ETHUSDT", "linear").path == "/v5/public/linear"
    with pytest.raises(ValueError, match="spot, linear, inverse, option"):
        topics.tickers("BTCUSDT", "futures")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="expected one of"):
        endpoints.endpoint_path("nowhere")  # type: ignore[arg-type]
    assert endpoints.endpoint_path("trade") == "/v5/trade"


# --------------------------------------------------------------------------- requests


def test_spot_requests_hold_at_most_10_args() -> None:
    args = [f"orderbook.1.SYM{i:02d}USDT" for i in range(23)]
    frames = requests.subscribe_frames(args, "spot", req_ids=iter(["a", "b", "c"]))
    assert [len(batch) for _, batch, _ in frames] == [10, 10, 3]
    assert [b for _, batch, _ in frames for b in batch] == args  # nothing lost, order kept
    first = orjson.loads(frames[0][2])
    assert first == {"op": "subscribe", "args": args[:10], "req_id": "a"}
    v3 = requests.split_args(args, "spot_v3_public")
    assert max(len(b) for b in v3) == 10
    assert len(requests.split_args(args, "linear")) == 1


def test_args_character_budget_per_connection() -> None:
    topic = "orderbook.1000.ABCDEFGHIJKLMNOPQRUSDT"  # 36 chars
    fits = [topic] * (21_000 // len(topic))
    requests.split_args(fits, "linear")
    with pytest.raises(ValueError, match="21000"):
        requests.split_args([*fits, topic], "linear")
    with pytest.raises(ValueError, match="21000"):
        requests.split_args([topic], "linear", already_used_chars=21_000 - len(topic) + 1)
    with pytest.raises(ValueError, match="2000"):
        requests.split_args(["tickers.X"], "option", already_used_args=2_000)


def test_subscribe_unsubscribe_ping_frames() -> None:
    assert orjson.loads(requests.unsubscribe(["publicTrade.ETHUSD"], "customised_id")) == {
        "op": "unsubscribe", "args": ["publicTrade.ETHUSD"], "req_id": "customised_id"}
    assert orjson.loads(requests.ping("100001")) == {"req_id": "100001", "op": "ping"}
    assert orjson.loads(requests.ping()) == {"op": "ping"}
    with pytest.raises(ValueError, match="at least one topic"):
        requests.subscribe([])
    with pytest.raises(ValueError, match="'subscribe' or 'unsubscribe'"):
        requests.subscribe(["x"], op="sub")


def test_auth_frame_matches_the_reference_vector() -> None:
    expected = "f072aab6fa18cd774da998325df6cfc87c3ccf10d5722e6b43b570c5feaf6172"
    assert sign("test-secret", 1662350400000) == expected
    assert verify("test-secret", 1662350400000, expected)
    assert not verify("test-secret", 1662350400001, expected)
    frame = requests.auth("my-key", "test-secret", expires=1662350400000, req_id="10001")
    assert orjson.loads(frame) == {"op": "auth", "args": ["my-key", 1662350400000, expected], "req_id": "10001"}
    assert "test-secret" not in frame


def test_auth_errors_never_show_the_secret() -> None:
    with pytest.raises(ValueError) as info:
        requests.auth("", "very-secret-value", expires=1)
    assert "very-secret-value" not in str(info.value)
    with pytest.raises(ValueError, match="api_secret is empty"):
        requests.auth("key", "", expires=1)


def test_trade_requests() -> None:
    req = requests.trade("order.create", {"symbol": "ETHUSDT", "qty": "0.2"}, req_id="test-005",
                         timestamp_ms=1711001595207, recv_window_ms=8000, referer="bot-001")
    assert orjson.loads(req.frame) == {
        "reqId": "test-005", "op": "order.create", "args": [{"symbol": "ETHUSDT", "qty": "0.2"}],
        "header": {"X-BAPI-TIMESTAMP": "1711001595207", "X-BAPI-RECV-WINDOW": "8000", "Referer": "bot-001"}}
    batch = requests.trade("order.create-batch", [{"symbol": "A"}] * 10, category="spot", timestamp_ms=1)
    assert orjson.loads(batch.frame)["args"] == [{"category": "spot", "request": [{"symbol": "A"}] * 10}]
    with pytest.raises(ValueError, match="1 to 10 orders for spot"):
        requests.trade("order.create-batch", [{"symbol": "A"}] * 11, category="spot")
    with pytest.raises(ValueError, match=r"order\.create, order\.amend"):
        requests.trade("order.cancel-all", {})
    with pytest.raises(ValueError, match="36 characters"):
        requests.trade("order.cancel", {}, req_id="x" * 37)


# --------------------------------------------------------------------------- layering


def test_protocol_imports_no_io_modules() -> None:
    code = (
        "import sys, rxbybit.protocol as p\n"
        "p.decode('{\"op\":\"pong\"}'); p.OrderBook()\n"
        "bad = sorted(m for m in ('asyncio', 'reactivex', 'websockets', 'socket', 'ssl', 'selectors') "
        "if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == ""
