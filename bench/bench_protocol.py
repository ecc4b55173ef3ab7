"""Benchmark: decoding and maintaining a Bybit ``orderbook.200`` stream, side by side.

A script, not a test. It generates one long linear ``orderbook.200.BTCUSDT`` stream (one
snapshot, then ``--deltas`` deltas touching 1 to 8 levels each, realistic prices and sizes,
contiguous ``u``) and measures in one run, on the same frames:

* ``orjson parse only``: ``orjson.loads`` of every frame (the floor any Python decoder pays);
* ``rxbybit decode + apply``: ``rxbybit.protocol.decode`` then ``OrderBook.apply``;
* ``pybit``: pybit's own book maintenance (``_V5WebSocketManager._on_message``: its JSON parse,
  ``_process_delta_orderbook`` and the copy it hands to the callback), driven without a socket;
* ``ccxt.pro``: ``ccxt.pro.bybit.handle_message`` (``handle_order_book``/``handle_deltas``) with
  a stub client, fed frames parsed by ccxt's own JSON parser, driven without a socket.

Competitors that are not installed are reported as such. Slow competitors run on a prefix of
the stream for a bounded time (``--budget`` seconds each); their rate is over what they did.

Run: ``.venv/bin/python bench/bench_protocol.py [--deltas N] [--budget S] [--repeat R]``.
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


# --------------------------------------------------------------------------- contenders


def run_orjson(frames: Sequence[str]) -> int:
    loads = orjson.loads
    for f in frames:
        loads(f)
    return len(frames)


def run_rxbybit(frames: Sequence[str]) -> int:
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


def make_pybit() -> tuple[Callable[[Sequence[str]], int] | None, str]:
    try:
        from pybit._websocket_stream import _V5WebSocketManager
    except ImportError:
        return None, "not installed (pip install pybit)"

    def run(frames: Sequence[str]) -> int:
        # Constructing the manager does not connect (that is _connect's job); _on_message is the
        # method websocket-client calls with each text frame.
        ws = _V5WebSocketManager("bench", testnet=False)
        ws.callback_directory[TOPIC] = lambda message: None
        on_message = ws._on_message
        for f in frames:
            on_message(f)
        book = ws.data[TOPIC]
        if len(book["b"]) != DEPTH or len(book["a"]) != DEPTH:
            raise SystemExit("pybit: its book lost levels; the comparison would not be honest")
        return len(frames)

    return run, ""


def make_ccxt() -> tuple[Callable[[Sequence[str]], int] | None, str]:
    try:
        import ccxt.pro as ccxtpro
        from ccxt.async_support.base.ws.client import json_parser
    except ImportError:
        return None, "not installed (pip install ccxt)"

    class StubClient:
        """What handle_message needs from ccxt's Client: the socket URL and resolve()."""

        url = "wss://stream.bybit.com/v5/public/linear"

        def __init__(self) -> None:
            self.futures: dict[str, Any] = {}

        def resolve(self, result: Any, message_hash: Any) -> Any:
            return result

    def run(frames: Sequence[str]) -> int:
        ex = ccxtpro.bybit()
        client = StubClient()
        handle = ex.handle_message
        loads = json_parser.loads
        for f in frames:
            handle(client, loads(f))
        book = ex.orderbooks[SYMBOL]
        if len(book["bids"]) != DEPTH or len(book["asks"]) != DEPTH:
            raise SystemExit("ccxt: its book lost levels; the comparison would not be honest")
        return len(frames)

    return run, ""


def measure(fn: Callable[[Sequence[str]], int], frames: Sequence[str], repeat: int, budget: float | None) -> float:
    """Best msgs/s over ``repeat`` runs. With ``budget``, run growing prefixes until it is used."""
    best = 0.0
    for _ in range(repeat):
        todo: Sequence[str] = frames
        if budget is not None:
            # find a prefix that takes about `budget` seconds (always starting with the snapshot)
            n = min(len(frames), 200)
            while True:
                gc.collect()
                t0 = time.perf_counter()
                fn(frames[:n])
                dt = time.perf_counter() - t0
                if n >= len(frames) or dt >= budget / 4:
                    break
                n = min(len(frames), max(n * 2, int(n * budget / 4 / max(dt, 1e-6))))
            todo = frames[:n]
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            done = fn(todo)
            dt = time.perf_counter() - t0
        finally:
            gc.enable()
        best = max(best, done / dt)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--deltas", type=int, default=100_000, help="deltas after the snapshot (default 100000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per contender, best kept (default 3)")
    ap.add_argument("--budget", type=float, default=4.0, help="seconds for each slow competitor (default 4)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    frames = generate(args.deltas, args.seed)
    size = sum(len(f) for f in frames[1:]) / max(1, len(frames) - 1)
    print(
        f"stream: {TOPIC} linear, 1 snapshot ({len(frames[0]):,} chars) + {args.deltas:,} deltas "
        f"(mean {size:.0f} chars), generated in {time.perf_counter() - t0:.1f} s"
    )
    print(f"python {sys.version.split()[0]}, orjson {orjson.__version__}")

    rates: dict[str, float] = {}
    rates["orjson parse only"] = measure(run_orjson, frames, args.repeat, None)
    rates["rxbybit decode + apply"] = measure(run_rxbybit, frames, args.repeat, None)
    notes: dict[str, str] = {}
    for name, maker in (("pybit", make_pybit), ("ccxt.pro", make_ccxt)):
        fn, why = maker()
        if fn is None:
            notes[name] = why
            continue
        try:
            rates[name] = measure(fn, frames, 1, args.budget)
        except Exception as exc:  # a competitor that cannot be driven is reported, not fatal
            notes[name] = f"could not be driven: {type(exc).__name__}: {exc}"

    base = rates["orjson parse only"]
    ours = rates["rxbybit decode + apply"]
    print()
    print(f"{'contender':<26}{'msgs/s':>12}{'vs orjson':>11}{'rxbybit is':>13}")
    for name, r in rates.items():
        vs_us = "" if name in ("rxbybit decode + apply", "orjson parse only") else f"{ours / r:.1f}x"
        print(f"{name:<26}{r:>12,.0f}{r / base:>10.2f}x{vs_us:>13}")
    for name, why in notes.items():
        print(f"{name:<26}{why}")
    print()
    ok1 = ours >= 0.5 * base
    print(f"target 1: rxbybit >= 0.5x orjson parse-only: {ours / base:.2f}x -> {'met' if ok1 else 'NOT met'}")
    if "ccxt.pro" in rates:
        ratio = ours / rates["ccxt.pro"]
        print(f"target 2: rxbybit >= 10x ccxt.pro: {ratio:.1f}x -> {'met' if ratio >= 10 else 'NOT met'}")
    else:
        print("target 2: rxbybit >= 10x ccxt.pro: not measured (ccxt.pro unavailable)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
