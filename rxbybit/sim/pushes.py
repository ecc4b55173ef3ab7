"""Every data push the simulator writes, in Bybit's shapes: one place for each envelope and row.

Public topics (``orderbook``, ``publicTrade``, ``tickers``, ``kline``, ``allLiquidation`` and the
legacy spot v3 ``orderbook.40``/``bookticker``/``trade``/``kline``/``tickers``) and private ones
(``order``, ``execution``, ``execution.fast``, ``position``, ``wallet``, ``greeks`` and the spot v3
``order``/``ticketInfo``/``outboundAccountInfo``) follow the protocol reference §6, §7 and §9.
Key order is Bybit's. Amounts are strings, times are ms; the builders take plain values and the
model's records, never a server object. Replies (acks, pongs, errors) live in
:mod:`rxbybit.protocol.replies`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from ..protocol.json_codec import dumps
from ..protocol.orders import V3_STATUS, OrderStatus
from .accounts import Account, Balance, Order, Position
from .instruments import Instrument
from .klines import Candle
from .market import Fill, LiquidationEvent, PublicTrade, Stats

Levels = list[list[str]]
"""Book levels as Bybit sends them: ``[[price, size], ...]``."""


def dec(x: Decimal, places: int = 8) -> str:
    """A Decimal as a plain string with at most ``places`` decimals, no exponent, no trailing zeros."""
    q = x.quantize(Decimal(1).scaleb(-places)) if places else x.quantize(Decimal(1))
    text = f"{q:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _num(x: float, places: int = 4) -> str:
    """``x`` with at most ``places`` decimals and no trailing zeros (``"20575"``, ``"0.0196"``)."""
    text = f"{x:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _snapshot(topic: str, now_ms: int, data: Any) -> str:
    """The plain public envelope: ``topic``, ``type: snapshot``, ``ts``, ``data``."""
    return dumps({"topic": topic, "type": "snapshot", "ts": now_ms, "data": data})


# ---------------------------------------------------------------------------------- books


def book_push(topic: str, kind: str, now_ms: int, symbol: str, bids: Levels, asks: Levels, u: int, seq: int,
         cts: int, *, ts_first: bool) -> str:
    """``orderbook.{depth}.{symbol}`` snapshot or delta (spot and level 1 put ``ts`` before ``type``)."""
    data = {"s": symbol, "b": bids, "a": asks, "u": u, "seq": seq}
    if ts_first:
        return dumps({"topic": topic, "ts": now_ms, "type": kind, "data": data, "cts": cts})
    return dumps({"topic": topic, "type": kind, "ts": now_ms, "data": data, "cts": cts})


def v3_book_push(topic: str, now_ms: int, symbol: str, t: int, bids: Levels, asks: Levels) -> str:
    """Legacy spot v3 ``orderbook.40.{symbol}``: always a snapshot."""
    return _snapshot(topic, now_ms, {"s": symbol, "t": t, "b": bids, "a": asks})


def v3_bookticker_push(topic: str, now_ms: int, inst: Instrument, bid: tuple[int, int], ask: tuple[int, int],
                  t: int) -> str:
    """Legacy spot v3 ``bookticker.{symbol}``: best bid and ask."""
    (bp, bq), (ap, aq) = bid, ask
    return _snapshot(topic, now_ms, {"s": inst.symbol, "bp": inst.px(bp), "bq": inst.qty(bq), "ap": inst.px(ap),
                                     "aq": inst.qty(aq), "t": t})


# ---------------------------------------------------------------------------------- trades


def trade_row(inst: Instrument, t: PublicTrade, mark: int = 0, underlying: float = 0.0) -> dict[str, Any]:
    """One ``publicTrade`` row (options add mark, index and IVs)."""
    row: dict[str, Any] = {"T": t.ts, "s": inst.symbol, "S": t.side, "v": inst.qty(t.qty), "p": inst.px(t.price)}
    if inst.category != "spot":
        row["L"] = t.direction
    row.update({"i": t.trade_id, "BT": False, "RPI": False, "seq": t.seq})
    if inst.category == "option":
        row.update({"mP": inst.px(mark), "iP": f"{underlying:.2f}", "mIv": "0.5123", "iv": "0.5061"})
    return row


def trades_push(topic: str, now_ms: int, rows: list[dict[str, Any]], *, option_seq: int | None = None) -> str:
    """``publicTrade.{symbol}`` (options, by base coin, carry an ``id`` made of the first trade's seq)."""
    if option_seq is not None:
        return dumps({"id": f"{topic}-{option_seq}-{now_ms}", "topic": topic, "ts": now_ms, "data": rows,
                      "type": "snapshot"})
    return _snapshot(topic, now_ms, rows)


def v3_trade_push(topic: str, now_ms: int, inst: Instrument, t: PublicTrade) -> str:
    """Legacy spot v3 ``trade.{symbol}``: one trade, ``data`` an object."""
    return _snapshot(topic, now_ms, {"v": t.trade_id, "t": t.ts, "p": inst.px(t.price), "q": inst.qty(t.qty),
                                     "m": t.side == "Buy", "type": "0"})


def liquidations_push(topic: str, now_ms: int, inst: Instrument, events: Iterable[LiquidationEvent]) -> str:
    """``allLiquidation.{symbol}``: the liquidations since the last push."""
    rows = [{"T": e.ts, "s": inst.symbol, "S": e.side, "v": inst.qty(e.qty), "p": inst.px(e.price)} for e in events]
    return _snapshot(topic, now_ms, rows)


# ---------------------------------------------------------------------------------- klines


def _kline_row(now_ms: int, inst: Instrument, c: Candle) -> dict[str, Any]:
    return {"start": c.start, "end": c.end, "interval": c.interval, "open": inst.px(c.open),
            "close": inst.px(c.close), "high": inst.px(c.high), "low": inst.px(c.low),
            "volume": inst.qty(c.volume), "turnover": _num(c.turnover), "confirm": c.confirm,
            "timestamp": c.last_ts if c.confirm else now_ms}


def kline_push(topic: str, now_ms: int, inst: Instrument, c: Candle, *more: Candle) -> str:
    """``kline.{interval}.{symbol}``: one candle (``confirm`` when closed), or several in one frame.

    At a rollover linear and inverse send the closed candle and the new one in one frame (observed
    in mainnet recordings); spot sends two frames.
    """
    return _snapshot(topic, now_ms, [_kline_row(now_ms, inst, x) for x in (c, *more)])


def kline_rollover_in_one_frame(category: str) -> bool:
    """True where a minute rollover comes as one frame with two candles (linear, inverse; observed)."""
    return category in ("linear", "inverse")


def v3_kline_push(topic: str, now_ms: int, inst: Instrument, c: Candle) -> str:
    """Legacy spot v3 ``kline.{1m..1M}.{symbol}``: ``data`` is one object with letter keys."""
    return _snapshot(topic, now_ms, {"t": c.start, "s": inst.symbol, "c": inst.px(c.close), "h": inst.px(c.high),
                                     "l": inst.px(c.low), "o": inst.px(c.open), "v": inst.qty(c.volume)})


# ---------------------------------------------------------------------------------- tickers


def _pct(last: int, prev: int) -> str:
    return f"{(last - prev) / prev:.6f}" if prev else "0"


def _next_funding(now_ms: int) -> str:
    eight_h = 8 * 3_600_000
    return str((now_ms // eight_h + 1) * eight_h)


def spot_ticker_fields(inst: Instrument, st: Stats, mid: int) -> dict[str, str]:
    """The spot ``tickers`` fields."""
    return {
        "symbol": inst.symbol, "lastPrice": inst.px(st.last_price), "highPrice24h": inst.px(st.high),
        "lowPrice24h": inst.px(st.low), "prevPrice24h": inst.px(st.prev_price_24h),
        "volume24h": _num(st.volume, inst.qty_dec), "turnover24h": _num(st.turnover, 8),  # spot: no padding
        "price24hPcnt": _num((st.last_price - st.prev_price_24h) / st.prev_price_24h, 4),
        "usdIndexPrice": inst.px(mid) if inst.quote in ("USDT", "USDC") else "",
    }


def derivative_ticker_fields(inst: Instrument, st: Stats, mid: int, bid: tuple[int, int], ask: tuple[int, int],
                      now_ms: int) -> dict[str, str]:
    """The linear and inverse ``tickers`` fields (mark is the mid, index the mid plus a fixed offset)."""
    (bp, bq), (ap, aq) = bid, ask
    return {
        "symbol": inst.symbol, "tickDirection": st.direction,
        "price24hPcnt": _pct(st.last_price, st.prev_price_24h), "lastPrice": inst.px(st.last_price),
        "prevPrice24h": inst.px(st.prev_price_24h), "highPrice24h": inst.px(st.high),
        "lowPrice24h": inst.px(st.low), "prevPrice1h": inst.px(st.prev_price_1h), "markPrice": inst.px(mid),
        "indexPrice": inst.px(mid + st.index_offset), "openInterest": f"{st.open_interest:.3f}",
        "openInterestValue": f"{st.open_interest * inst.pxf(mid):.2f}",
        **single_open_interest(inst, st.open_interest, inst.pxf(mid)),
        "turnover24h": f"{st.turnover:.4f}", "volume24h": f"{st.volume:.4f}",
        "nextFundingTime": _next_funding(now_ms), "fundingRate": st.funding_rate,
        "bid1Price": inst.px(bp), "bid1Size": inst.qty(bq), "ask1Price": inst.px(ap), "ask1Size": inst.qty(aq),
        "fundingIntervalHour": "8", "fundingCap": "0.005",
        "preOpenPrice": "", "preQty": "", "curPreListingPhase": "",
    }


def single_open_interest(inst: Instrument, open_interest: float, mark: float) -> dict[str, str]:
    """Linear tickers (2026) carry ``singleOpenInterest``/``singleOpenInterestValue``: one side of the
    open interest, about half of it in a live capture (observed; the exact rule is unconfirmed)."""
    if inst.category != "linear":
        return {}
    single = open_interest / 2
    return {"singleOpenInterest": f"{single:.3f}", "singleOpenInterestValue": f"{single * mark:.2f}"}


def option_ticker_fields(inst: Instrument, st: Stats, mid: int, bid: tuple[int, int], ask: tuple[int, int],
                  underlying: float, delta: float, gamma: float) -> dict[str, str]:
    """The option ``tickers`` fields."""
    (bp, bq), (ap, aq) = bid, ask
    return {
        "symbol": inst.symbol, "bidPrice": inst.px(bp), "bidSize": inst.qty(bq), "bidIv": "0.4980",
        "askPrice": inst.px(ap), "askSize": inst.qty(aq), "askIv": "0.5210", "lastPrice": inst.px(st.last_price),
        "highPrice24h": inst.px(st.high), "lowPrice24h": inst.px(st.low), "markPrice": inst.px(mid),
        "indexPrice": f"{underlying:.2f}", "markPriceIv": "0.5095", "underlyingPrice": f"{underlying:.2f}",
        "openInterest": f"{st.open_interest:.2f}", "turnover24h": f"{st.turnover:.4f}",
        "volume24h": f"{st.volume:.2f}", "totalVolume": f"{st.volume * 7:.0f}",
        "totalTurnover": f"{st.turnover * 7:.0f}", "delta": f"{delta:.8f}", "gamma": f"{gamma:.8f}",
        "vega": f"{inst.ref_price * 0.01:.8f}", "theta": f"{-inst.ref_price * 0.02:.8f}",
        "predictedDeliveryPrice": "0", "change24h": _pct(st.last_price, st.prev_price_24h),
    }


def ticker_push(topic: str, endpoint: str, now_ms: int, cs: int, data: dict[str, str]) -> str:
    """A full ``tickers`` push; each category orders its keys differently (options carry an ``id``)."""
    if endpoint == "spot":
        return dumps({"topic": topic, "ts": now_ms, "type": "snapshot", "cs": cs, "data": data})
    if endpoint == "option":
        return dumps({"id": f"{topic}-{cs}-{now_ms}", "topic": topic, "type": "snapshot", "data": data, "ts": now_ms})
    return dumps({"topic": topic, "type": "snapshot", "data": data, "cs": cs, "ts": now_ms})


def ticker_delta_push(topic: str, now_ms: int, cs: int, data: dict[str, str]) -> str:
    """A linear/inverse ``tickers`` delta: the symbol plus the fields that changed."""
    return dumps({"topic": topic, "type": "delta", "data": data, "cs": cs, "ts": now_ms})


def v3_ticker_fields(inst: Instrument, st: Stats) -> dict[str, str]:
    """Legacy spot v3 ``tickers`` fields (24 h statistics with letter keys)."""
    return {"s": inst.symbol, "o": inst.px(st.prev_price_24h), "h": inst.px(st.high), "l": inst.px(st.low),
            "c": inst.px(st.last_price), "v": f"{st.volume:.{inst.qty_dec}f}", "qv": f"{st.turnover:.8f}",
            "m": f"{(st.last_price - st.prev_price_24h) / st.prev_price_24h:.4f}", "xp": ""}


def v3_ticker_push(topic: str, now_ms: int, data: dict[str, str]) -> str:
    """Legacy spot v3 ``tickers`` push."""
    return _snapshot(topic, now_ms, {"t": now_ms, **data})


# ---------------------------------------------------------------------------------- private rows


def order_row(o: Order) -> dict[str, Any]:
    """An ``order`` push row."""
    inst = o.inst
    avg = o.cum_value / Decimal(inst.qty(o.cum_qty)) if o.cum_qty else Decimal(0)
    if inst.inverse and o.cum_qty:
        avg = Decimal(inst.qty(o.cum_qty)) / o.cum_value
    active = o.active
    leaves_value = Decimal(inst.qty(o.leaves)) * Decimal(inst.px(o.price)) if o.price and active else Decimal(0)
    return _order_fields_of(inst.category, {
        "category": inst.category, "symbol": inst.symbol, "orderId": o.order_id, "orderLinkId": o.link_id,
        "blockTradeId": "", "side": o.side, "positionIdx": 0, "orderStatus": o.status,
        "cancelType": o.cancel_type, "rejectReason": o.reject_reason,
        "avgPrice": dec(avg, inst.price_dec + 4) if o.cum_qty else ("" if inst.category == "spot" else "0"),
        "leavesQty": inst.qty(o.leaves) if active else "0", "leavesValue": dec(leaves_value),
        "cumExecQty": inst.qty(o.cum_qty), "cumExecValue": dec(o.cum_value), "cumExecFee": dec(o.cum_fee),
        "cumFeeDetail": {o.fee_coin: dec(o.cum_fee)} if o.fee_coin else {},
        "closedPnl": "0", "feeCurrency": o.fee_coin if inst.category == "spot" else "",
        "timeInForce": o.tif, "orderType": o.order_type, "stopOrderType": "", "ocoTriggerBy": "",
        "orderIv": "", "marketUnit": o.market_unit, "slippageToleranceType": "UNKNOWN", "slippageTolerance": "0",
        "triggerPrice": "", "takeProfit": "", "stopLoss": "", "tpslMode": "", "tpLimitPrice": "", "slLimitPrice": "",
        "tpTriggerBy": "", "slTriggerBy": "", "triggerDirection": 0, "triggerBy": "",
        "lastPriceOnCreated": "", "reduceOnly": o.reduce_only, "closeOnTrigger": False, "placeType": "",
        "smpType": "None", "smpGroup": 0, "smpOrderId": "", "createdTime": str(o.created),
        "updatedTime": str(o.updated or o.created), "isLeverage": "", "price": _shown_price(o),
        "qty": inst.qty(o.qty), "createType": "CreateByUser", "parentOrderLinkId": "", "rpiTakerAccess": False,
        "rpiMatchedQty": "0",
    })


SPOT_ORDER_LACKS: tuple[str, ...] = ("tpslMode", "createType")
"""Fields a spot ``order`` row does not carry (observed on mainnet; contract rows do). ccxt reads
``tpslMode`` to tell a contract order from a spot one."""


def _order_fields_of(category: str, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with only the fields an ``order`` push of ``category`` carries."""
    if category == "spot":
        for key in SPOT_ORDER_LACKS:
            del row[key]
    return row


def _shown_price(o: Order) -> str:
    """An order's ``price``: its limit, or a market order's slippage-protection price (never ``"0"``)."""
    price = o.price or o.protection_price
    return o.inst.px(price) if price else "0"


def execution_row(o: Order, f: Fill, maker: bool, fee: Decimal, rate: Decimal, pnl: Decimal, closed: Decimal,
                  mark: Decimal, seq: int) -> dict[str, Any]:
    """An ``execution`` push row for one fill of ``o``."""
    inst = o.inst
    qty = Decimal(inst.qty(f.qty))
    price = Decimal(inst.px(f.price))
    value = qty / price if inst.inverse else qty * price
    return {
        "category": inst.category, "symbol": inst.symbol, "closedSize": dec(closed), "execFee": dec(fee),
        "execId": f.trade_id, "execPrice": inst.px(f.price), "execQty": inst.qty(f.qty), "execType": "Trade",
        "execValue": dec(value), "feeRate": dec(rate), "tradeIv": "", "markIv": "", "blockTradeId": "",
        "markPrice": dec(mark, inst.price_dec), "indexPrice": "", "underlyingPrice": "",
        "leavesQty": inst.qty(o.leaves), "orderId": o.order_id, "orderLinkId": o.link_id,
        "orderPrice": _shown_price(o) if o.price or o.protection_price else inst.px(f.price),
        "orderQty": inst.qty(o.qty),
        "orderType": o.order_type, "stopOrderType": "UNKNOWN", "side": o.side, "execTime": str(f.ts),
        "isLeverage": "0", "isMaker": maker, "seq": seq, "execPnl": dec(pnl), "createType": "CreateByUser",
        "feeCurrency": o.fee_coin, "marketUnit": o.market_unit, "extraFees": "",
    }


def fast_execution_row(o: Order, f: Fill, maker: bool, seq: int) -> dict[str, Any]:
    """An ``execution.fast`` push row (``orderLinkId`` is empty for maker fills)."""
    inst = o.inst
    return {
        "category": inst.category, "symbol": inst.symbol, "orderId": o.order_id, "isMaker": maker,
        "orderLinkId": "" if maker else o.link_id, "execId": f.trade_id, "execPrice": inst.px(f.price),
        "execQty": inst.qty(f.qty), "side": o.side, "execTime": str(f.ts), "seq": seq,
    }


def position_row(pos: Position, mark: Decimal, now: int) -> dict[str, Any]:
    """A ``position`` push row (sent on every order change, even when nothing changed)."""
    inst: Instrument = pos.inst
    size = abs(pos.size)
    side = "" if not pos.size else ("Buy" if pos.size > 0 else "Sell")
    if inst.inverse:
        value = size / pos.entry if pos.entry else Decimal(0)
        upl = size * (1 / pos.entry - 1 / mark) * (1 if pos.size > 0 else -1) if pos.entry and mark else Decimal(0)
    else:
        value = size * pos.entry
        upl = (mark - pos.entry) * pos.size if pos.size else Decimal(0)
    im = value / 10
    return {
        "category": inst.category, "symbol": inst.symbol, "side": side, "size": position_size(inst, size),
        "positionIdx": 0, "tradeMode": 0, "positionValue": dec(value), "riskId": 1, "riskLimitValue": "2000000",
        "entryPrice": dec(pos.entry, inst.price_dec + 4), "markPrice": dec(mark, inst.price_dec), "leverage": "10",
        "breakEvenPrice": dec(pos.entry, inst.price_dec + 4), "positionBalance": dec(im), "autoAddMargin": 0,
        "positionIM": dec(im), "positionIMByMp": dec(im), "positionMM": dec(im / 20), "positionMMByMp": dec(im / 20),
        "liqPrice": "", "bustPrice": "", "tpslMode": "Full", "takeProfit": "0", "stopLoss": "0",
        "trailingStop": "0", "unrealisedPnl": dec(upl), "curRealisedPnl": dec(pos.realised),
        "cumRealisedPnl": dec(pos.cum_realised), "sessionAvgPrice": "", "delta": "", "gamma": "", "vega": "",
        "theta": "", "positionStatus": "Normal", "adlRankIndicator": 2 if size else 0, "isReduceOnly": False,
        "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "", "createdTime": str(pos.created or now),
        "updatedTime": str(pos.updated or now), "openTime": pos.created if size else 0, "seq": pos.seq,
    }


def position_size(inst: Instrument, size: Decimal) -> str:
    """A position's size in the instrument's decimals; a closed position's is ``"0"`` (observed)."""
    return "0" if not size else f"{size:.{inst.qty_dec}f}"


def wallet_row(balances: Iterable[Balance], realised: Mapping[str, Decimal]) -> dict[str, Any]:
    """A ``wallet`` push row for the unified account (``balances`` in coin order)."""
    coins = []
    total = total_avail = total_im = Decimal(0)
    for b in balances:
        usd = b.balance * b.price
        total += usd
        total_avail += (b.balance - b.locked) * b.price
        total_im += b.locked * b.price
        coins.append({
            "coin": b.coin, "equity": dec(b.balance), "usdValue": dec(usd, 4), "walletBalance": dec(b.balance),
            "free": dec(b.balance - b.locked), "locked": dec(b.locked), "spotHedgingQty": "0", "borrowAmount": "0",
            "availableToBorrow": "", "availableToWithdraw": "", "accruedInterest": "0",
            "totalOrderIM": dec(b.locked), "totalPositionIM": "0", "totalPositionMM": "0", "unrealisedPnl": "0",
            "cumRealisedPnl": dec(realised.get(b.coin, Decimal(0))), "bonus": "0", "collateralSwitch": True,
            "marginCollateral": True, "spotBorrow": "0",
        })
    return {
        "accountType": "UNIFIED", "accountIMRate": dec(total_im / total if total else Decimal(0), 4),
        "accountMMRate": "0", "accountLTV": "0", "totalEquity": dec(total, 4), "totalWalletBalance": dec(total, 4),
        "totalMarginBalance": dec(total, 4), "totalAvailableBalance": dec(total_avail, 4), "totalPerpUPL": "0",
        "totalInitialMargin": dec(total_im, 4), "totalMaintenanceMargin": dec(total_im / 20, 4),
        "accountIMRateByMp": "0", "accountMMRateByMp": "0", "totalInitialMarginByMp": dec(total_im, 4),
        "totalMaintenanceMarginByMp": dec(total_im / 20, 4), "coin": coins,
    }


def greeks_row(acct: Account, base: str) -> dict[str, str]:
    """A ``greeks`` row: totals of the account's ``base`` options (crude delta of +/-0.5 a contract)."""
    delta = Decimal(0)
    for (cat, _sym), pos in acct.positions.items():
        if cat == "option" and pos.inst.base == base:
            delta += pos.size * (Decimal("0.5") if pos.inst.option_type == "Call" else Decimal("-0.5"))
    return {"baseCoin": base, "totalDelta": dec(delta, 4), "totalGamma": "0", "totalVega": "0", "totalTheta": "0"}


# ---------------------------------------------------------------------------------- private envelopes


def private_push(topic: str, rows: list[dict[str, Any]], now_ms: int, uid: int) -> str:
    """A V5 private push: ``execution.fast`` has no id, ``execution`` a uid/symbol/seq id, others a random one."""
    if topic.startswith("execution.fast"):
        return dumps({"topic": topic, "creationTime": now_ms, "data": rows})
    if topic.startswith("execution"):
        return dumps({"topic": topic, "id": f"{uid}_{rows[0]['symbol']}_{rows[0]['seq']}", "creationTime": now_ms,
                      "data": rows})
    return dumps({"id": f"{secrets.token_hex(7)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}",
                  "topic": topic, "creationTime": now_ms, "data": rows})


def _v3_private(topic: str, ts: str, row: dict[str, Any]) -> str:
    return dumps({"type": "snapshot", "topic": topic, "ts": ts, "data": [row]})


def v3_ticket_push(o: Order, f: Fill, maker: bool, now_ms: int) -> str:
    """Legacy spot v3 ``ticketInfo``: one fill of the account's order."""
    inst, ts = o.inst, str(now_ms)
    return _v3_private("ticketInfo", ts, {
        "e": "ticketInfo", "E": ts, "s": inst.symbol, "q": inst.qty(f.qty), "t": str(f.ts), "p": inst.px(f.price),
        "T": f.trade_id, "o": o.order_id, "c": o.link_id, "O": "0", "a": str(o.account.uid), "A": "0", "m": maker,
        "S": o.side.upper(),
    })


def v3_order_push(o: Order, last_qty: int, last_price: int, trade_id: str, now_ms: int) -> str:
    """Legacy spot v3 ``order``: the order after a fill (``last_*``) or a status change (zeros)."""
    inst, ts = o.inst, str(now_ms)
    if o.tif == "PostOnly":
        otype = "LIMIT_MAKER"
    elif o.order_type == "Limit":
        otype = "LIMIT"
    else:
        otype = "MARKET_OF_BASE" if o.market_unit == "baseCoin" or o.side == "Sell" else "MARKET_OF_QUOTE"
    return _v3_private("order", ts, {
        "e": "order", "E": ts, "s": inst.symbol, "c": o.link_id, "S": o.side.upper(), "o": otype,
        "f": o.tif if o.tif != "PostOnly" else "GTC", "q": inst.qty(o.qty), "p": inst.px(o.price) if o.price else "0",
        "X": V3_STATUS.get(o.status, o.status.upper()), "i": o.order_id, "M": "0",
        "l": inst.qty(last_qty), "z": inst.qty(o.cum_qty), "L": inst.px(last_price) if last_price else "0",
        "n": dec(o.cum_fee), "N": o.fee_coin, "u": True, "w": o.active, "m": o.tif == "PostOnly",
        "O": str(o.created), "Z": dec(o.cum_value), "A": "0", "C": False, "v": "0", "d": "NO_LIQ",
        "t": trade_id,
    })


def v3_pushes_status(status: OrderStatus) -> bool:
    """True when spot v3 pushes an ``order`` frame for a status change: new, or ended unfilled."""
    return status is OrderStatus.NEW or (status.is_final and status is not OrderStatus.FILLED)


def v3_account_push(wallet: Mapping[str, Any], now_ms: int) -> str:
    """Legacy spot v3 ``outboundAccountInfo``: free and locked balances from a ``wallet`` row."""
    ts = str(now_ms)
    balances = [{"a": c["coin"], "f": c["free"], "l": c["locked"]} for c in wallet["coin"]]
    return _v3_private("outboundAccountInfo", ts,
                       {"e": "outboundAccountInfo", "E": ts, "T": True, "W": True, "D": True, "B": balances})
