"""The on-disk layout of a recording dataset: partitions, file names and the typed columns.

A dataset is a directory of Parquet files under Hive partitions::

    ROOT/category=linear/topic=publicTrade/symbol=BTCUSDT/date=2026-11-30/part-<ms>-<id>.parquet

``category`` is the socket the frames came from (``linear``, ``spot``, ...), ``topic`` the topic
without its symbol (``publicTrade``, ``orderbook.50``, ``kline.1``, ``tickers``), ``date`` the UTC
day of the exchange timestamp. Files being written are hidden (``.part-....parquet.tmp``) and are
renamed into place only once complete, so any reader, whatever it globs, sees complete files only.
See ``docs/dataset.md``.
"""

from __future__ import annotations

from typing import Final, Literal

import pyarrow as pa

from ..protocol import topics as T
from ..protocol.endpoints import ENDPOINT_PATHS, Endpoint

Kind = Literal["trades", "book", "kline", "other"]
"""Which column set a topic's files carry."""

UTC_MS = pa.timestamp("ms", tz="UTC")
UTC_US = pa.timestamp("us", tz="UTC")

COMMON: Final[list[pa.Field]] = [
    pa.field("recv_time", UTC_US, nullable=False),  # when the recorder received the frame
    pa.field("ts", UTC_MS),  # the frame's exchange timestamp
    pa.field("frame", pa.string()),  # the raw frame, on the first row of each frame (null on the others)
]

SCHEMAS: Final[dict[Kind, pa.Schema]] = {
    "trades": pa.schema([*COMMON,
                         pa.field("trade_time", UTC_MS), pa.field("trade_id", pa.string()),
                         pa.field("side", pa.string()), pa.field("price", pa.float64()),
                         pa.field("size", pa.float64()), pa.field("tick_direction", pa.string()),
                         pa.field("block_trade", pa.bool_()), pa.field("seq", pa.int64())]),
    "book": pa.schema([*COMMON,
                       pa.field("type", pa.string()), pa.field("u", pa.int64()), pa.field("seq", pa.int64()),
                       pa.field("cts", UTC_MS),
                       pa.field("bid_prices", pa.list_(pa.float64())), pa.field("bid_sizes", pa.list_(pa.float64())),
                       pa.field("ask_prices", pa.list_(pa.float64())), pa.field("ask_sizes", pa.list_(pa.float64()))]),
    "kline": pa.schema([*COMMON,
                        pa.field("start", UTC_MS), pa.field("end", UTC_MS), pa.field("interval", pa.string()),
                        pa.field("open", pa.float64()), pa.field("high", pa.float64()),
                        pa.field("low", pa.float64()), pa.field("close", pa.float64()),
                        pa.field("volume", pa.float64()), pa.field("turnover", pa.float64()),
                        pa.field("confirm", pa.bool_())]),
    "other": pa.schema([*COMMON, pa.field("type", pa.string())]),
}
"""Columns of each kind's files (the partition keys are in the directory names, not in the files)."""

PARTITION_KEYS: Final[tuple[str, ...]] = ("category", "topic", "symbol", "date")
NO_SYMBOL: Final[str] = "_"
"""The ``symbol`` partition of topics without one (private topics, unparsed names)."""

PARTITION_SCHEMA: Final[pa.Schema] = pa.schema([(k, pa.string()) for k in PARTITION_KEYS])
"""How to read the partition keys with pyarrow: ``ds.dataset(root, partitioning=ds.partitioning(
PARTITION_SCHEMA, flavor="hive"))`` (all strings; ``date`` is ``YYYY-MM-DD``)."""

TEMP_SUFFIX: Final[str] = ".tmp"


def kind_of(topic_head: str) -> Kind:
    """The column set of a topic (``publicTrade`` -> trades, ``orderbook.50`` -> book, ...)."""
    if topic_head in ("publicTrade", "trade"):
        return "trades"
    if topic_head.startswith("orderbook"):
        return "book"
    if topic_head.startswith("kline"):
        return "kline"
    return "other"


def split_topic(name: str, endpoint: Endpoint) -> tuple[str, str]:
    """``(topic partition, symbol partition)`` of a topic, e.g. ``("orderbook.50", "BTCUSDT")``."""
    try:
        topic = T.parse(name, endpoint)
    except ValueError:
        topic = None
    if topic is not None and topic.symbol and name.endswith("." + topic.symbol):
        return name[: -len(topic.symbol) - 1], topic.symbol
    return name, NO_SYMBOL


def join_topic(topic: str, symbol: str) -> str:
    """The Bybit topic name back from its two partitions."""
    return topic if symbol == NO_SYMBOL else f"{topic}.{symbol}"


def socket_path(category: str) -> str:
    """The socket path frames of ``category`` are replayed on."""
    try:
        return ENDPOINT_PATHS[category]  # type: ignore[index]
    except KeyError:
        raise ValueError(f"unknown category partition {category!r}") from None


def safe_value(text: str) -> str:
    """A partition value is a path segment: refuse what would escape or break it."""
    hidden = text.startswith((".", "_")) and text != NO_SYMBOL  # readers skip hidden names
    if not text or text in (".", "..") or any(c in text for c in "/\\=\0") or hidden:
        raise ValueError(f"{text!r} cannot be a partition value")
    return text
