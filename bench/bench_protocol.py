"""Benchmark: decoding Bybit streams (books, trades, tickers, private pushes), side by side.

A script, not a test. It generates four streams of JSON text frames and measures, in one run,
in interleaved rounds (every contender once per round, best round kept), on the same frames:

* ``book``: one ``orderbook.200.BTCUSDT`` linear snapshot, then ``--deltas`` deltas touching 1
  to 8 levels each (realistic prices and sizes, contiguous ``u``); rxbybit decodes and applies
  every frame to an ``OrderBook``;
* ``trades``: ``publicTrade.BTCUSDT`` pushes of 1 to 6 trades; rxbybit decodes to ``Trades``;
* ``recorded``: a real ``orderbook.500.XRPUSDT`` recording from Bybit's archive (the test
  fixture ``tests/protocol/fixtures/nautilus_trader/2024-12-01_XRPUSDT_ob500.jsonl``: one
  500-level snapshot and 49 deltas of 4 to 355 levels, 60 on average), replayed ``--passes``
  times; each pass starts again at its snapshot, which resets every contender's book. Real deltas
  carry many more levels than the generated ones, so per-level costs weigh more here;
* ``tickers``: a ``tickers.BTCUSDT`` linear snapshot then deltas of 2 to 8 fields; rxbybit
  decodes and merges each into ``TickerState``;
* ``private``: ``order`` and ``execution`` pushes (V5, 1 to 3 items of 40-odd fields); rxbybit
  decodes to ``PrivateUpdate`` (values stay Bybit's exact strings).

Book streams add rows that show where the time goes: rxbybit's decode alone, its apply alone (on
events decoded beforehand), msgspec's typed parse alone, and a floor that is not a book (the
parse, then a plain loop storing every level into a dict: the least pure Python can do per level).

Contenders on every stream: ``orjson parse only`` (``orjson.loads``, the floor any Python
decoder built on a JSON parser pays), rxbybit, pybit (``_V5WebSocketManager._on_message``: its
JSON parse, its book/ticker maintenance and the copy it hands to the callback, driven without a
socket) and ccxt.pro (``bybit.handle_message`` with a stub client, fed frames parsed by ccxt's
own JSON parser). Slow competitors run on a prefix of each stream sized to ``--budget`` seconds.

Run: ``.venv/bin/python bench/bench_protocol.py [--deltas N] [--rounds R] [--budget S]``.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from bisect import insort
from collections.abc import Callable, Sequence
from typing import Any

import orjson

TOPIC = "orderbook.200.BTCUSDT"
SYMBOL = "BTCUSDT"
DEPTH = 200
TICK = 0.1  # BTCUSDT linear tick size; prices are kept as integer ticks while generating
RECORDING = (__import__("pathlib").Path(__file__).resolve().parents[1] / "tests" / "protocol" / "fixtures"
             / "nautilus_trader" / "2024-12-01_XRPUSDT_ob500.jsonl")
BOOKS = {"book": (TOPIC, SYMBOL, DEPTH), "recorded": ("orderbook.500.XRPUSDT", "XRPUSDT", 500)}
"""Book streams: topic, symbol, and the levels a side every contender's book must hold at the end."""


def recorded(passes: int) -> list[str]:
    """The recorded ``orderbook.500.XRPUSDT`` snapshot and deltas, ``passes`` times over."""
    frames = [line for line in RECORDING.read_text().splitlines() if line.strip()]
    return frames * passes


def _px(tick: int) -> str:
    return f"{tick // 10}.{tick % 10}"


def _sz(rng: random.Random) -> str:
    # sizes in BTC with 3 decimals, skewed small like a real book
    return f"{max(0.001, rng.expovariate(1 / 0.8)):.3f}"


def generate(n_deltas: int, seed: int = 7) -> list[str]:
    """One snapshot then ``n_deltas`` contiguous deltas of a 200-level linear book, as JSON text.

    Each delta touches 1 to 8 levels: size changes (mostly near the top), deletions (the level
    that enters the 200-level window from below is sent as an insert), insertions inside the
    window (the level pushed out is sent as size "0"), and moves of the touch. The book never
    crosses and never holds more than 200 levels a side.
    """
    rng = random.Random(seed)
    mid = 650_000  # 65,000.0 in ticks
    bids = sorted((mid - 1 - i - rng.randint(0, 1) * (i > 20) for i in range(DEPTH)), reverse=True)
    bids = sorted(set(bids), reverse=True)
    while len(bids) < DEPTH:
        bids.append(bids[-1] - 1)
    asks = sorted(set(mid + 1 + i for i in range(DEPTH)))
    # both sides as ascending "distance from the touch" keys: bids negated
    sides: dict[str, tuple[list[int], dict[int, str], int]] = {
        "b": ([-p for p in bids], {}, -1),
        "a": (list(asks), {}, 1),
    }
    for _name, (keys, sizes, _sign) in sides.items():
        for k in keys:
            sizes[k] = _sz(rng)
    u = 10_000_000
    seq = 80_000_000_000
    ts = 1_733_011_200_000
    frames = [_frame("snapshot", sides, None, u, seq, ts)]
    for _ in range(n_deltas):
        u += 1
        seq += rng.randint(1, 40)
        ts += rng.randint(1, 100)
        changes: dict[str, dict[int, str]] = {"b": {}, "a": {}}
        fresh: set[int] = set()  # levels created in this delta (a delete then just drops them)
        target = rng.randint(1, 8)  # levels this delta touches
        for _ in range(4 * target):
            touched = len(changes["b"]) + len(changes["a"])
            if touched >= target:
                break
            name = "b" if rng.random() < 0.5 else "a"
            keys, sizes, _sign = sides[name]
            other_keys = sides["a" if name == "b" else "b"][0]
            out = changes[name]
            r = rng.random()
            if r < 0.55:  # change the size of a level, mostly near the top
                i = min(int(rng.expovariate(1 / 12)), len(keys) - 1)
                k = keys[i]
                sizes[k] = out[k] = _sz(rng)
            elif r < 0.78 and len(keys) > 20 and touched <= target - 2:
                # delete a level; the next one enters the window from below
                i = min(int(rng.expovariate(1 / 20)), len(keys) - 1)
                k = keys.pop(i)
                del sizes[k]
                _delete(out, fresh, k)
                nk = keys[-1] + rng.randint(1, 3)
                insort(keys, nk)
                sizes[nk] = _insert(out, fresh, nk, _sz(rng))
            elif touched <= target - 2:
                # insert a level inside the window (or improve the touch); the last one leaves
                best_other = -other_keys[0] if other_keys else None  # same key space as this side
                lo = best_other + 1 if best_other is not None else keys[0] - 5
                cand = rng.randint(max(lo, keys[0] - 3), keys[0] + 30)
                if cand in sizes or cand < lo:
                    continue
                insort(keys, cand)
                sizes[cand] = _insert(out, fresh, cand, _sz(rng))
                if len(keys) > DEPTH:
                    gone = keys.pop()
                    del sizes[gone]
                    _delete(out, fresh, gone)
        if not changes["b"] and not changes["a"]:  # every op was skipped or cancelled: touch the best bid
            keys, sizes, _sign = sides["b"]
            sizes[keys[0]] = changes["b"][keys[0]] = _sz(rng)
        frames.append(_frame("delta", sides, changes, u, seq, ts))
    return frames


def _insert(out: dict[int, str], fresh: set[int], k: int, size: str) -> str:
    if out.get(k) != "0":  # not in the book when this delta started
        fresh.add(k)
    out[k] = size
    return size


def _delete(out: dict[int, str], fresh: set[int], k: int) -> None:
    if k in fresh:  # created earlier in this same delta: Bybit would not mention it at all
        fresh.discard(k)
        del out[k]
    else:
        out[k] = "0"


def _frame(
    kind: str,
    sides: dict[str, tuple[list[int], dict[int, str], int]],
    changes: dict[str, dict[int, str]] | None,
    u: int,
    seq: int,
    ts: int,
) -> str:
    data: dict[str, Any] = {"s": SYMBOL}
    for name, (keys, sizes, sign) in sides.items():
        if changes is None:
            data[name] = [[_px(sign * k), sizes[k]] for k in keys]
        else:
            data[name] = [[_px(sign * k), s] for k, s in sorted(changes[name].items())]
    data["u"] = u
    data["seq"] = seq
    msg = {"topic": TOPIC, "type": kind, "ts": ts, "data": data, "cts": ts - 2}
    return orjson.dumps(msg).decode()


# --------------------------------------------------------------------------- the other streams


def generate_trades(n: int, seed: int = 11) -> list[str]:
    """``n`` ``publicTrade.BTCUSDT`` pushes of 1 to 6 trades around 65,000 (as Bybit sends them)."""
    rng = random.Random(seed)
    ts = 1_733_011_200_000
    tick = 650_000
    seq = 80_000_000_000
    out = []
    for k in range(n):
        ts += rng.randint(1, 50)
        trades = []
        for j in range(rng.choice((1, 1, 1, 2, 2, 3, 4, 6))):
            step = rng.choice((-1, 0, 0, 1))
            tick += step
            seq += 1
            trades.append({
                "T": ts - 1, "s": SYMBOL, "S": "Buy" if step >= 0 else "Sell", "v": _sz(rng), "p": _px(tick),
                "L": ("PlusTick", "ZeroPlusTick", "MinusTick")[step + 1] if step else "ZeroPlusTick",
                "i": f"{k:08x}-{j:04x}-5a1b-8e2f-{seq:012x}", "BT": False, "RPI": False, "seq": seq,
            })
        msg = {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": ts, "data": trades}
        out.append(orjson.dumps(msg).decode())
    return out


_TICKER_NUMERIC = (
    "price24hPcnt", "lastPrice", "prevPrice24h", "highPrice24h", "lowPrice24h", "prevPrice1h", "markPrice",
    "indexPrice", "openInterest", "openInterestValue", "turnover24h", "volume24h", "nextFundingTime",
    "fundingRate", "bid1Price", "bid1Size", "ask1Price", "ask1Size", "fundingIntervalHour", "basisRate",
    "deliveryFeeRate", "predictedDeliveryPrice",
)


def generate_tickers(n: int, seed: int = 13) -> list[str]:
    """A ``tickers.BTCUSDT`` linear snapshot, then ``n - 1`` deltas of 2 to 8 changed fields."""
    rng = random.Random(seed)
    ts = 1_733_011_200_000
    cs = 24_987_956_059
    data: dict[str, str] = {"symbol": SYMBOL, "tickDirection": "PlusTick", "deliveryTime": "",
                            "curPreListingPhase": ""}
    for name in _TICKER_NUMERIC:
        data[name] = f"{rng.uniform(0.001, 70_000):.3f}"
    out = [orjson.dumps({"topic": "tickers.BTCUSDT", "type": "snapshot", "data": data, "cs": cs, "ts": ts}).decode()]
    for _ in range(n - 1):
        ts += 100
        cs += rng.randint(1, 30)
        changed = {"symbol": SYMBOL}
        for name in rng.sample(_TICKER_NUMERIC, rng.randint(2, 8)):
            changed[name] = f"{rng.uniform(0.001, 70_000):.3f}"
        out.append(orjson.dumps({"topic": "tickers.BTCUSDT", "type": "delta", "data": changed, "cs": cs,
                                 "ts": ts}).decode())
    return out


def generate_private(n: int, seed: int = 17) -> list[str]:
    """``n`` V5 ``order`` and ``execution`` pushes (1 to 3 items each, every value as Bybit's text)."""
    rng = random.Random(seed)
    t = 1_733_011_200_000
    out = []
    for k in range(n):
        t += rng.randint(1, 40)
        items: list[dict[str, Any]] = []
        topic = "order" if k % 3 else "execution"
        for _ in range(rng.choice((1, 1, 2, 3))):
            oid = f"{rng.getrandbits(64):016x}-{k:08x}"
            price = _px(650_000 + rng.randint(-500, 500))
            if topic == "order":
                items.append({
                    "category": "linear", "symbol": SYMBOL, "orderId": oid, "side": "Buy", "orderType": "Limit",
                    "cancelType": "UNKNOWN", "price": price, "qty": "0.010", "orderIv": "", "timeInForce": "GTC",
                    "orderStatus": "New", "orderLinkId": f"link-{k}", "lastPriceOnCreated": price,
                    "reduceOnly": False, "leavesQty": "0.010", "leavesValue": "650", "cumExecQty": "0",
                    "cumExecValue": "0", "avgPrice": "", "blockTradeId": "", "positionIdx": 0, "cumExecFee": "0",
                    "createdTime": str(t - 3), "updatedTime": str(t - 1), "rejectReason": "EC_NoError",
                    "triggerPrice": "", "takeProfit": "", "stopLoss": "", "tpTriggerBy": "", "slTriggerBy": "",
                    "tpLimitPrice": "", "slLimitPrice": "", "closeOnTrigger": False, "placeType": "",
                    "smpType": "None", "smpGroup": 0, "smpOrderId": "", "feeCurrency": "", "triggerBy": "",
                    "stopOrderType": "", "triggerDirection": 0, "tpslMode": "", "createType": "CreateByUser",
                })
            else:
                items.append({
                    "category": "linear", "symbol": SYMBOL, "closedSize": "0", "execFee": "0.0357",
                    "execId": f"{rng.getrandbits(64):016x}", "execPrice": price, "execQty": "0.001",
                    "execType": "Trade", "execValue": "65.0", "feeRate": "0.00055", "tradeIv": "", "markIv": "",
                    "blockTradeId": "", "markPrice": price, "indexPrice": "", "underlyingPrice": "",
                    "leavesQty": "0", "orderId": oid, "orderLinkId": "", "orderPrice": price, "orderQty": "0.001",
                    "orderType": "Market", "stopOrderType": "UNKNOWN", "side": "Sell", "execTime": str(t - 2),
                    "isLeverage": "0", "isMaker": False, "seq": 4_688_002_127 + k, "marketUnit": "",
                    "execPnl": "0", "createType": "CreateByUser",
                })
        out.append(orjson.dumps({"id": f"{k:08x}-{seed}", "topic": topic, "creationTime": t, "data": items}).decode())
    return out


# --------------------------------------------------------------------------- contenders

Runner = Callable[[Sequence[str]], int]


def run_orjson(frames: Sequence[str]) -> int:
    loads = orjson.loads
    for f in frames:
        loads(f)
    return len(frames)


def run_rxbybit(frames: Sequence[str]) -> int:
    """Decode + apply every book frame; the book must stay in sync (else the stream is broken)."""
    from rxbybit.protocol import BookUpdate, OrderBook, decode

    book = OrderBook()
    bad = 0
    for f in frames:
        ev = decode(f)
        if type(ev) is BookUpdate:
            if not book.apply(ev).changed:
                bad += 1
        else:
            bad += 1
    if bad or book.needs_resync:
        raise SystemExit(f"rxbybit: {bad} frames were not applied; the benchmark stream is broken")
    return len(frames)


def run_rxbybit_decode_only(frames: Sequence[str]) -> int:
    from rxbybit.protocol import decode

    for f in frames:
        decode(f)
    return len(frames)


def run_msgspec_parse(frames: Sequence[str]) -> int:
    """msgspec's typed parse of the book frames alone (what rxbybit's decoder starts with)."""
    from rxbybit.protocol.decode import _read_book

    for f in frames:
        _read_book(f)
    return len(frames)


def run_parse_and_store(frames: Sequence[str]) -> int:
    """A floor, not a book: msgspec's typed parse, then every level stored into a dict per side.

    No ordering, no deletes, no checks, no event: the least a pure-Python book can do per level.
    """
    from rxbybit.protocol.decode import _read_book

    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    for f in frames:
        d = _read_book(f).data
        for p, s in d.b:
            bids[p] = s
        for p, s in d.a:
            asks[p] = s
    return len(frames)


def make_apply_only(frames: Sequence[str]) -> Runner:
    """``OrderBook.apply`` alone, on events decoded beforehand (where the time goes)."""
    from rxbybit.protocol import OrderBook, decode

    events = [decode(f) for f in frames]

    def run(todo: Sequence[str]) -> int:
        book = OrderBook()
        apply = book.apply
        for ev in events[: len(todo)]:
            apply(ev)  # type: ignore[arg-type]
        return len(todo)

    return run


def run_rxbybit_trades(frames: Sequence[str]) -> int:
    from rxbybit.protocol import Trades, decode

    n = 0
    for f in frames:
        ev = decode(f)
        if type(ev) is Trades:
            n += len(ev.trades)
        else:
            raise SystemExit(f"rxbybit: a trade frame decoded to {type(ev).__name__}")
    return len(frames)


def run_rxbybit_tickers(frames: Sequence[str]) -> int:
    from rxbybit.protocol import TickerState, TickerUpdate, decode

    state = TickerState()
    for f in frames:
        ev = decode(f)
        if type(ev) is not TickerUpdate:
            raise SystemExit(f"rxbybit: a ticker frame decoded to {type(ev).__name__}")
        state.apply(ev)
    return len(frames)


def run_rxbybit_private(frames: Sequence[str]) -> int:
    from rxbybit.protocol import PrivateUpdate, decode

    for f in frames:
        ev = decode(f)
        if type(ev) is not PrivateUpdate:
            raise SystemExit(f"rxbybit: a private frame decoded to {type(ev).__name__}")
    return len(frames)


def make_pybit(stream: str) -> tuple[Runner | None, str]:
    try:
        from pybit._websocket_stream import _V5WebSocketManager
    except ImportError:
        return None, "not installed (pip install pybit)"
    topics = {"book": [TOPIC], "recorded": [BOOKS["recorded"][0]], "trades": ["publicTrade.BTCUSDT"],
              "tickers": ["tickers.BTCUSDT"], "private": ["order", "execution"]}[stream]

    def run(frames: Sequence[str]) -> int:
        # Constructing the manager does not connect (that is _connect's job); _on_message is the
        # method websocket-client calls with each text frame.
        ws = _V5WebSocketManager("bench", testnet=False)
        for topic in topics:
            ws.callback_directory[topic] = lambda message: None
        on_message = ws._on_message
        for f in frames:
            on_message(f)
        if stream in BOOKS:
            topic, _symbol, depth = BOOKS[stream]
            book = ws.data[topic]
            if len(book["b"]) != depth or len(book["a"]) != depth:
                raise SystemExit("pybit: its book lost levels; the comparison would not be honest")
        return len(frames)

    return run, ""


def make_ccxt(stream: str) -> tuple[Runner | None, str]:
    try:
        import ccxt.pro as ccxtpro
        from ccxt.async_support.base.ws.client import json_parser
    except ImportError:
        return None, "not installed (pip install ccxt)"

    class StubClient:
        """What handle_message needs from ccxt's Client: the socket URL and resolve()."""

        url = ("wss://stream.bybit.com/v5/private" if stream == "private"
               else "wss://stream.bybit.com/v5/public/linear")

        def __init__(self) -> None:
            self.futures: dict[str, Any] = {}
            self.subscriptions: dict[str, Any] = {}

        def resolve(self, result: Any, message_hash: Any) -> Any:
            return result

    def run(frames: Sequence[str]) -> int:
        ex = ccxtpro.bybit()
        client = StubClient()
        handle = ex.handle_message
        loads = json_parser.loads
        for f in frames:
            handle(client, loads(f))
        if stream in BOOKS:
            _topic, symbol, depth = BOOKS[stream]
            book = ex.orderbooks[symbol]
            if len(book["bids"]) != depth or len(book["asks"]) != depth:
                raise SystemExit("ccxt: its book lost levels; the comparison would not be honest")
        return len(frames)

    return run, ""


# --------------------------------------------------------------------------- measuring


def _timed(fn: Runner, frames: Sequence[str]) -> float:
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        done = fn(frames)
        dt = time.perf_counter() - t0
    finally:
        gc.enable()
    return done / dt


def _prefix(fn: Runner, frames: Sequence[str], budget: float) -> int:
    """How many frames (from the start) ``fn`` handles in about ``budget`` seconds."""
    n = min(len(frames), 200)
    while True:
        t0 = time.perf_counter()
        fn(frames[:n])
        dt = time.perf_counter() - t0
        if n >= len(frames) or dt >= budget / 2:
            return n if dt >= budget / 2 or n >= len(frames) else len(frames)
        n = min(len(frames), max(n * 2, int(n * budget / max(dt, 1e-6))))


STREAMS = ("book", "recorded", "trades", "tickers", "private")
OURS = {"book": "rxbybit decode + apply", "recorded": "rxbybit decode + apply", "trades": "rxbybit decode",
        "tickers": "rxbybit decode + merge",
        "private": "rxbybit decode"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--deltas", type=int, default=100_000, help="book deltas after the snapshot (default 100000)")
    ap.add_argument("--frames", type=int, default=50_000, help="frames of each other stream (default 50000)")
    ap.add_argument("--passes", type=int, default=400, help="passes over the recorded book (default 400)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds, best kept (default 5)")
    ap.add_argument("--budget", type=float, default=0.6, help="seconds per round for each slow competitor")
    ap.add_argument("--streams", default=",".join(STREAMS), help="comma-separated subset of " + ",".join(STREAMS))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--results", default=None, help="append headline ratios as JSON lines to this file")
    args = ap.parse_args(argv)
    streams = [s for s in args.streams.split(",") if s]

    t0 = time.perf_counter()
    data: dict[str, list[str]] = {}
    gens = {"book": lambda: generate(args.deltas, args.seed), "recorded": lambda: recorded(args.passes),
            "trades": lambda: generate_trades(args.frames),
            "tickers": lambda: generate_tickers(args.frames), "private": lambda: generate_private(args.frames)}
    for name in streams:
        data[name] = gens[name]()
    import msgspec

    print(f"python {sys.version.split()[0]}, orjson {orjson.__version__}, msgspec {msgspec.__version__}; "
          f"streams generated in {time.perf_counter() - t0:.1f} s")
    for name in streams:
        frames = data[name]
        mean = sum(len(f) for f in frames[1:]) / max(1, len(frames) - 1)
        print(f"  {name:<8} {len(frames):>8,} frames, mean {mean:,.0f} chars")

    ours_fn: dict[str, Runner] = {"book": run_rxbybit, "recorded": run_rxbybit, "trades": run_rxbybit_trades,
                                  "tickers": run_rxbybit_tickers, "private": run_rxbybit_private}
    contenders: dict[str, list[tuple[str, Runner, int]]] = {}
    notes: dict[str, list[str]] = {}
    for name in streams:
        frames = data[name]
        rows: list[tuple[str, Runner, int]] = [("orjson parse only", run_orjson, len(frames)),
                                               (OURS[name], ours_fn[name], len(frames))]
        if name in BOOKS:
            rows.append(("  rxbybit decode only", run_rxbybit_decode_only, len(frames)))
            rows.append(("  rxbybit apply only", make_apply_only(frames), len(frames)))
            rows.append(("  msgspec typed parse only", run_msgspec_parse, len(frames)))
            rows.append(("  floor: parse + dict store", run_parse_and_store, len(frames)))
        notes[name] = []
        for who, maker in (("pybit", make_pybit), ("ccxt.pro", make_ccxt)):
            fn, why = maker(name)
            if fn is None:
                notes[name].append(f"{who}: {why}")
                continue
            try:
                rows.append((who, fn, _prefix(fn, frames, args.budget)))
            except (Exception, SystemExit) as exc:  # a competitor that cannot be driven is reported, not fatal
                notes[name].append(f"{who}: could not be driven: {type(exc).__name__}: {exc}")
        contenders[name] = rows

    best: dict[tuple[str, str], float] = {}
    for _ in range(args.rounds):  # interleaved: every contender once per round
        for name in streams:
            for who, fn, n in contenders[name]:
                rate = _timed(fn, data[name][:n])
                key = (name, who)
                best[key] = max(best.get(key, 0.0), rate)

    print(f"\nbest of {args.rounds} interleaved rounds (slow competitors on a prefix of ~{args.budget} s)")
    print(f"{'stream':<9}{'contender':<27}{'msgs/s':>12}{'vs orjson':>11}{'rxbybit is':>12}")
    for name in streams:
        base = best[(name, "orjson parse only")]
        ours = best[(name, OURS[name])]
        for who, _fn, _n in contenders[name]:
            r = best[(name, who)]
            vs = f"{ours / r:.1f}x" if who in ("pybit", "ccxt.pro") else ""
            print(f"{name:<9}{who:<27}{r:>12,.0f}{r / base:>10.2f}x{vs:>12}")
        for note in notes[name]:
            print(f"{name:<9}{note}")

    print()
    base = best.get(("book", "orjson parse only"))
    if base:
        ours = best[("book", OURS["book"])]
        ratio = ours / base
        print(f"target: book decode + apply >= 1.0x orjson parse-only (0.75x to call it resolved): {ratio:.2f}x -> "
              f"{'met' if ratio >= 1.0 else 'resolved' if ratio >= 0.75 else 'NOT met'}")
        _record(args.results, "book: decode + apply / orjson parse-only", ratio, 1.0)
        for who, target in (("ccxt.pro", 10.0), ("pybit", 30.0)):
            if ("book", who) in best:
                r = ours / best[("book", who)]
                print(f"target: book rxbybit >= {target:.0f}x {who}: {r:.1f}x -> {'met' if r >= target else 'NOT met'}")
                _record(args.results, f"book: rxbybit / {who}", r, target)
    for name in streams:
        if name == "book":
            continue
        ours = best[(name, OURS[name])]
        _record(args.results, f"{name}: {OURS[name][8:]} / orjson parse-only", ours / best[(name, "orjson parse only")],
                None)
        for who in ("ccxt.pro", "pybit"):
            if (name, who) in best:
                _record(args.results, f"{name}: rxbybit / {who}", ours / best[(name, who)], None)
    return 0


def _record(path: str | None, what: str, value: float, target: float | None) -> None:
    if path is None:
        return
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    from _report import record

    record(path, "protocol", what, value, "x", target=target)


if __name__ == "__main__":
    raise SystemExit(main())
