"""The ``data`` rows of private pushes (order, execution, execution.fast, position, wallet, greeks).

Field names and value types follow the protocol reference §7: amounts are strings, times are ms
strings in order rows, ``positionIdx``/``seq`` are numbers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Account, Engine, Order, Position
    from .instruments import Instrument
    from .market import Fill


def dec(x: Decimal, places: int = 8) -> str:
    """A Decimal as a plain string with at most ``places`` decimals, no exponent, no trailing zeros."""
    q = x.quantize(Decimal(1).scaleb(-places)) if places else x.quantize(Decimal(1))
    text = f"{q:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def order_row(o: Order) -> dict[str, Any]:
    """An ``order`` push row."""
    inst = o.inst
    avg = o.cum_value / Decimal(inst.qty(o.cum_qty)) if o.cum_qty else Decimal(0)
    if inst.inverse and o.cum_qty:
        avg = Decimal(inst.qty(o.cum_qty)) / o.cum_value
    active = o.active
    leaves_value = Decimal(inst.qty(o.leaves)) * Decimal(inst.px(o.price)) if o.price and active else Decimal(0)
    return {
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
        "updatedTime": str(o.updated or o.created), "isLeverage": "", "price": inst.px(o.price) if o.price else "0",
        "qty": inst.qty(o.qty), "createType": "CreateByUser", "parentOrderLinkId": "", "rpiTakerAccess": False,
        "rpiMatchedQty": "0",
    }


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
        "orderPrice": inst.px(o.price) if o.price else inst.px(f.price), "orderQty": inst.qty(o.qty),
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
        "category": inst.category, "symbol": inst.symbol, "side": side, "size": f"{size:.{inst.qty_dec}f}",
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


def wallet_row(engine: Engine, acct: Account) -> dict[str, Any]:
    """A ``wallet`` push row for the unified account."""
    coins = []
    total = total_avail = total_im = Decimal(0)
    for coin, balance in sorted(acct.wallet.items()):
        price = engine.coin_price(coin)
        locked = engine.locked(acct, coin)
        usd = balance * price
        total += usd
        total_avail += (balance - locked) * price
        total_im += locked * price
        coins.append({
            "coin": coin, "equity": dec(balance), "usdValue": dec(usd, 4), "walletBalance": dec(balance),
            "free": dec(balance - locked), "locked": dec(locked), "spotHedgingQty": "0", "borrowAmount": "0",
            "availableToBorrow": "", "availableToWithdraw": "", "accruedInterest": "0", "totalOrderIM": dec(locked),
            "totalPositionIM": "0", "totalPositionMM": "0", "unrealisedPnl": "0",
            "cumRealisedPnl": dec(acct.realised.get(coin, Decimal(0))), "bonus": "0", "collateralSwitch": True,
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


def greeks_rows(acct: Account, base: str) -> list[dict[str, str]]:
    """``greeks`` rows: totals of the account's ``base`` options (crude delta of +/-0.5 a contract)."""
    delta = Decimal(0)
    for (cat, _sym), pos in acct.positions.items():
        if cat == "option" and pos.inst.base == base:
            delta += pos.size * (Decimal("0.5") if pos.inst.option_type == "Call" else Decimal("-0.5"))
    return [{"baseCoin": base, "totalDelta": dec(delta, 4), "totalGamma": "0", "totalVega": "0", "totalTheta": "0"}]
