"""Client-to-server frames: subscribe/unsubscribe split to Bybit's limits, auth, ping, WS trade.

All builders return JSON text ready to send. ``req_id`` values are strings (Bybit echoes them).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .clock import now_ms
from .endpoints import takes_subscriptions
from .json_codec import dumps
from .limits import (
    AUTH_EXPIRES_IN_MS,
    BATCH_ORDER_LIMITS,
    args_per_request,
    check_req_id,
    connection_refusal,
)
from .signing import sign
from .topics import Endpoint

TRADE_OPS: Final[tuple[str, ...]] = (
    "order.create", "order.amend", "order.cancel",
    "order.create-batch", "order.amend-batch", "order.cancel-batch",
)
_counter = itertools.count(1)


def next_req_id(prefix: str = "rx") -> str:
    """A process-unique request id (short enough for the trade API's ``reqId`` limit)."""
    return f"{prefix}-{next(_counter)}"


def split_args(
    args: Sequence[str], endpoint: Endpoint, *, already_used_chars: int = 0, already_used_args: int = 0
) -> list[list[str]]:
    """Split ``args`` into request-sized batches for ``endpoint``.

    Raises ``ValueError`` if the connection's 21,000-character args budget (or the option
    socket's 2,000-arg cap) would be exceeded: the caller must then open another connection.
    """
    refusal = connection_refusal(endpoint, already_used_chars + sum(len(a) for a in args),
                                 already_used_args + len(args))
    if refusal is not None:
        raise ValueError(f"subscribing {len(args)} topics: {refusal}")
    return chunks(args, endpoint)


def chunks(args: Sequence[str], endpoint: Endpoint) -> list[list[str]]:
    """``args`` in order, cut into batches of the most one request on ``endpoint`` may carry."""
    if not takes_subscriptions(endpoint):
        raise ValueError(f"the {endpoint} socket takes no subscriptions")
    size = args_per_request(endpoint)
    return [list(args[i : i + size]) for i in range(0, len(args), size)]


def subscribe(args: Sequence[str], req_id: str | None = None, *, op: str = "subscribe") -> str:
    """One subscribe (or unsubscribe) frame. Split with :func:`split_args` first."""
    if op not in ("subscribe", "unsubscribe"):
        raise ValueError(f"op must be 'subscribe' or 'unsubscribe', not {op!r}")
    if not args:
        raise ValueError(f"{op} needs at least one topic")
    frame: dict[str, Any] = {"op": op, "args": list(args)}
    if req_id is not None:
        frame["req_id"] = req_id
    return dumps(frame)


def unsubscribe(args: Sequence[str], req_id: str | None = None) -> str:
    """One unsubscribe frame."""
    return subscribe(args, req_id, op="unsubscribe")


def subscribe_frames(
    args: Sequence[str], endpoint: Endpoint, *, op: str = "subscribe", req_ids: Iterator[str] | None = None
) -> list[tuple[str, list[str], str]]:
    """Frames for ``args`` split to ``endpoint``'s limits, as ``(req_id, batch, frame)`` triples."""
    ids = req_ids if req_ids is not None else (next_req_id() for _ in itertools.count())
    out = []
    for batch in split_args(args, endpoint):
        rid = next(ids)
        out.append((rid, batch, subscribe(batch, rid, op=op)))
    return out


def ping(req_id: str | None = None) -> str:
    """Bybit's application-level JSON ping (send every 20 s)."""
    return dumps({"op": "ping"} if req_id is None else {"req_id": req_id, "op": "ping"})


def auth(
    api_key: str, api_secret: str, *, expires: int | None = None, req_id: str | None = None,
    expires_in_ms: int = AUTH_EXPIRES_IN_MS,
) -> str:
    """The ``auth`` frame: ``[api_key, expires, signature]``; ``expires`` defaults to now + 10 s."""
    if not api_key:
        raise ValueError("api_key is empty")
    exp = int(expires) if expires is not None else now_ms() + expires_in_ms
    frame: dict[str, Any] = {"op": "auth", "args": [api_key, exp, sign(api_secret, exp)]}
    if req_id is not None:
        frame["req_id"] = req_id
    return dumps(frame)


@dataclass(frozen=True, slots=True)
class TradeRequest:
    """A WS trade API request as sent: its ``reqId``, op and JSON text."""

    req_id: str
    op: str
    frame: str


def trade(
    op: str,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    req_id: str | None = None,
    category: str | None = None,
    timestamp_ms: int | None = None,
    recv_window_ms: int | None = None,
    referer: str | None = None,
) -> TradeRequest:
    """Build a ``/v5/trade`` request.

    Single ops take one params mapping. Batch ops take a sequence of orders plus ``category``
    and are wrapped as ``[{"category": ..., "request": [...]}]``, checked against Bybit's
    per-category batch size.
    """
    if op not in TRADE_OPS:
        raise ValueError(f"unknown trade op {op!r}; expected one of {', '.join(TRADE_OPS)}")
    rid = req_id if req_id is not None else next_req_id("rxt")
    check_req_id(rid)
    args: list[Any]
    if op.endswith("-batch"):
        if isinstance(params, Mapping):
            raise ValueError(f"{op} takes a list of orders")
        if category is None:
            raise ValueError(f"{op} needs a category")
        limit = BATCH_ORDER_LIMITS.get(category)
        if limit is None:
            raise ValueError(f"unknown category {category!r}; expected one of {', '.join(BATCH_ORDER_LIMITS)}")
        if not params or len(params) > limit:
            raise ValueError(f"{op} takes 1 to {limit} orders for {category}, got {len(params)}")
        args = [{"category": category, "request": [dict(p) for p in params]}]
    else:
        if not isinstance(params, Mapping):
            raise ValueError(f"{op} takes exactly one params mapping")
        args = [dict(params)]
    header: dict[str, str] = {"X-BAPI-TIMESTAMP": str(timestamp_ms if timestamp_ms is not None else now_ms())}
    if recv_window_ms is not None:
        header["X-BAPI-RECV-WINDOW"] = str(recv_window_ms)
    if referer is not None:
        header["Referer"] = referer
    return TradeRequest(rid, op, dumps({"reqId": rid, "header": header, "op": op, "args": args}))

