"""Declared column types of every Bybit topic a frame can hold, so ``.df`` never guesses.

Bybit's private pushes carry numbers as strings (``"0.010"``) and times as epoch-millisecond strings;
a frame that guessed from the first value would sum strings or make ``entryPrice`` an integer. Each
topic here declares its fields' kinds instead:

* ``f``: float64 (prices, sizes, values, fees, PnL, rates); an empty string is NaN;
* ``t``: a time (epoch ms, number or string), shown as ``datetime64[ms, UTC]``; empty is NaT;
* ``s``: an exact string (ids, symbols, sides, statuses): values that go back to the exchange
  keep the exchange's text;
* ``i``: int64 (``positionIdx``, ``seq``); ``b``: bool (``isMaker``, ``reduceOnly``);
* ``O``: anything else, kept as the Python object (``cumFeeDetail``, ``coin`` lists).

The exact strings of every field stay available where values go back to the exchange:
:class:`~rxbybit.frames.StateFrame` keeps each row as Bybit sent it (``frame.rows``), and only its
``.df`` is typed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

Kind = str


@dataclass(frozen=True)
class TopicSchema:
    """The declared kind of each field of one topic's items."""

    topic: str
    kinds: Mapping[str, Kind]
    signature: frozenset[str]
    """Fields whose presence identifies an item of this topic."""

    def kind(self, field: str) -> Kind | None:
        """The declared kind of ``field`` (None: not declared)."""
        return self.kinds.get(field)


def _kinds(**groups: Iterable[str]) -> Mapping[str, Kind]:
    out: dict[str, Kind] = {}
    for kind, names in groups.items():
        for name in names:
            out[name] = kind
    return MappingProxyType(out)


_ORDER_FLOATS = ("price", "qty", "avgPrice", "leavesQty", "leavesValue", "cumExecQty", "cumExecValue",
                 "cumExecFee", "closedPnl", "triggerPrice", "takeProfit", "stopLoss", "tpLimitPrice",
                 "slLimitPrice", "lastPriceOnCreated", "orderIv", "rpiMatchedQty", "slippageTolerance")
_ORDER_TEXT = ("category", "orderId", "orderLinkId", "parentOrderLinkId", "isLeverage", "blockTradeId",
               "symbol", "side", "orderStatus", "createType", "cancelType", "rejectReason", "feeCurrency",
               "timeInForce", "orderType", "stopOrderType", "ocoTriggerBy", "marketUnit",
               "slippageToleranceType", "tpslMode", "tpTriggerBy", "slTriggerBy", "triggerBy", "placeType",
               "smpType", "smpOrderId")

ORDER = TopicSchema("order", _kinds(
    f=_ORDER_FLOATS, s=_ORDER_TEXT, t=("createdTime", "updatedTime"),
    i=("positionIdx", "triggerDirection", "smpGroup"), b=("reduceOnly", "closeOnTrigger", "rpiTakerAccess"),
    O=("cumFeeDetail",),
), frozenset({"orderId", "orderStatus"}))
"""``order`` pushes (and ``order.linear`` ...)."""

EXECUTION = TopicSchema("execution", _kinds(
    f=("orderPrice", "orderQty", "leavesQty", "execFee", "execPrice", "execQty", "execPnl", "execValue",
       "feeRate", "tradeIv", "markIv", "markPrice", "indexPrice", "underlyingPrice", "closedSize"),
    s=("category", "symbol", "isLeverage", "orderId", "orderLinkId", "side", "createType", "orderType",
       "stopOrderType", "feeCurrency", "execId", "execType", "blockTradeId", "marketUnit"),
    t=("execTime",), i=("seq",), b=("isMaker",), O=("extraFees",),
), frozenset({"execId", "execQty"}))
"""``execution`` and ``execution.fast`` pushes (the fast one sends a subset of these fields)."""

POSITION = TopicSchema("position", _kinds(
    f=("size", "positionValue", "riskLimitValue", "entryPrice", "markPrice", "leverage", "breakEvenPrice",
       "positionIM", "positionIMByMp", "positionMM", "positionMMByMp", "liqPrice", "bustPrice", "takeProfit",
       "stopLoss", "trailingStop", "unrealisedPnl", "curRealisedPnl", "cumRealisedPnl", "sessionAvgPrice",
       "delta", "gamma", "vega", "theta", "positionBalance"),
    s=("category", "symbol", "side", "positionStatus", "tpslMode"),
    t=("createdTime", "updatedTime", "mmrSysUpdatedTime", "leverageSysUpdatedTime"),
    i=("positionIdx", "riskId", "autoAddMargin", "adlRankIndicator", "seq", "tradeMode", "openTime"),
    b=("isReduceOnly",),
), frozenset({"positionIdx", "entryPrice"}))
"""``position`` pushes."""

_COIN_FLOATS = ("equity", "usdValue", "walletBalance", "locked", "spotHedgingQty", "borrowAmount",
                "accruedInterest", "totalOrderIM", "totalPositionIM", "totalPositionMM", "unrealisedPnl",
                "cumRealisedPnl", "bonus", "free", "availableToBorrow", "availableToWithdraw", "spotBorrow")

WALLET = TopicSchema("wallet", _kinds(
    f=("accountIMRate", "accountMMRate", "totalEquity", "totalWalletBalance", "totalMarginBalance",
       "totalAvailableBalance", "totalPerpUPL", "totalInitialMargin", "totalMaintenanceMargin",
       "accountIMRateByMp", "accountMMRateByMp", "totalInitialMarginByMp", "totalMaintenanceMarginByMp",
       "accountLTV", *_COIN_FLOATS),
    s=("accountType", "coin"), b=("collateralSwitch", "marginCollateral", "colRes"),
), frozenset({"accountType", "totalEquity"}))
"""``wallet`` pushes and the per-coin rows :func:`~rxbybit.frames.balances` makes of them (``coin``
is the coin's name there; in a whole push it is the list of coins, kept as an object)."""

GREEKS = TopicSchema("greeks", _kinds(
    s=("baseCoin",), f=("totalDelta", "totalGamma", "totalVega", "totalTheta"),
), frozenset({"baseCoin", "totalDelta"}))

TICKER = TopicSchema("tickers", _kinds(
    f=("lastPrice", "indexPrice", "markPrice", "prevPrice24h", "price24hPcnt", "highPrice24h", "lowPrice24h",
       "prevPrice1h", "openInterest", "openInterestValue", "turnover24h", "volume24h", "fundingRate",
       "bid1Price", "bid1Size", "ask1Price", "ask1Size", "bidPrice", "bidSize", "askPrice", "askSize",
       "bidIv", "askIv", "markIv", "underlyingPrice", "totalVolume", "totalTurnover", "delta", "gamma",
       "vega", "theta", "change24h", "predictedDeliveryPrice", "basisRate", "basis", "deliveryFeeRate",
       "usdIndexPrice", "openPrice", "preOpenPrice", "preQty", "fundingCap", "fundingIntervalHour"),
    s=("symbol", "tickDirection", "curPreListingPhase", "deliveryTime"),
    t=("nextFundingTime",),
), frozenset({"lastPrice"}))
"""Merged ``tickers`` (values are already floats; ``nextFundingTime`` becomes a time)."""

TOPICS: tuple[TopicSchema, ...] = (EXECUTION, ORDER, POSITION, WALLET, GREEKS, TICKER)
"""Every declared topic, most specific signature first."""

BY_NAME: Mapping[str, TopicSchema] = MappingProxyType({
    **{t.topic: t for t in TOPICS}, "execution.fast": EXECUTION, "ticker": TICKER,
})

TIME_NAMES = frozenset(("ts", "start", "end", "timestamp", "time", "T", "updatedTime", "execTime",
                        "creationTime", "createdTime", "nextFundingTime", "cts"))
"""Integer fields of this name in a dataclass or NamedTuple are times (shown as UTC datetimes)."""


def topic_schema(name: str) -> TopicSchema:
    """The declared schema of a topic (``"order"``, ``"execution.linear"``, ``"wallet"`` ...).

    Raises:
        KeyError: no declared schema; the message lists the known ones.
    """
    base = name
    for suffix in (".spot", ".linear", ".inverse", ".option"):
        base = base.removesuffix(suffix)
    try:
        return BY_NAME[base]
    except KeyError:
        raise KeyError(f"no declared schema for topic {name!r}; known: {', '.join(sorted(BY_NAME))}") from None


def detect(item: Mapping[str, object]) -> TopicSchema | None:
    """The topic whose signature fields ``item`` has (None when none matches)."""
    keys = item.keys()
    for t in TOPICS:
        if all(k in keys for k in t.signature):
            return t
    return None


def field_kind(name: str, topic: TopicSchema | None) -> Kind | None:
    """The declared kind of ``name``: the topic's, else any topic's, else None."""
    if topic is not None:
        k = topic.kind(name)
        if k is not None:
            return k
    for t in TOPICS:
        k = t.kind(name)
        if k is not None:
            return k
    return None
