"""``python -m rxbybit.recordings DIR`` (what ``make dataset`` runs) shows what the demo shows, rebuilt
from the recorded frames, and ``make dataset`` records what the demo subscribes."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from recording_frames import LINEAR, T0, trade_frame

from rxbybit.cli import main as cli
from rxbybit.demo import add_arguments
from rxbybit.protocol import topics as T
from rxbybit.protocol.book import OrderBook
from rxbybit.protocol.decode import decode
from rxbybit.protocol.events import BookUpdate
from rxbybit.recordings import DatasetWriter
from rxbybit.recordings.__main__ import main as summary

ROOT = Path(__file__).resolve().parents[2]


def _book(u: int, snapshot: bool, bids: list[list[str]], asks: list[list[str]]) -> str:
    return json.dumps({"topic": "orderbook.50.BTCUSDT", "type": "snapshot" if snapshot else "delta", "ts": T0 + u,
                       "data": {"s": "BTCUSDT", "b": bids, "a": asks, "u": u, "seq": u}, "cts": T0 + u})


def _ticker(n: int, snapshot: bool, fields: dict[str, str]) -> str:
    return json.dumps({"topic": "tickers.BTCUSDT", "type": "snapshot" if snapshot else "delta", "ts": T0 + n,
                       "cs": n, "data": {"symbol": "BTCUSDT", **fields}})


FRAMES = [
    _book(1, True, [["100.0", "1"], ["99.5", "2"]], [["101.0", "3"], ["101.5", "4"]]),
    _ticker(1, True, {"lastPrice": "100.5", "markPrice": "100.4", "volume24h": "12.5"}),
    trade_frame(1),
    _book(2, False, [["100.0", "0"], ["100.2", "5"]], []),
    _ticker(2, False, {"lastPrice": "100.7"}),
    _book(3, False, [], [["101.0", "0"], ["100.9", "0.25"]]),
    _ticker(3, False, {"markPrice": "100.8"}),
    _book(4, False, [["100.2", "0"]], [["100.9", "7"]]),
]


def _at(i: int) -> float:
    return (T0 + i * 1000) / 1000


def _expected_book(upto: int) -> OrderBook:
    book = OrderBook("BTCUSDT", 50)
    for f in FRAMES[:upto]:
        update = decode(f)
        if isinstance(update, BookUpdate):
            book.apply(update)
    return book


def test_the_summary_shows_the_book_ticker_and_trades_as_of_a_time(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with DatasetWriter(tmp_path / "ds") as w:
        for i, f in enumerate(FRAMES):
            w.write(LINEAR, f, _at(i))
    assert summary([str(tmp_path / "ds")]) == 0
    out = capsys.readouterr().out
    end = _expected_book(len(FRAMES))
    assert end.u == 4 and f"orderbook.50.BTCUSDT: u=4  spread {round(end.spread or 0, 9)}" in out
    best = re.search(r"u=4.*\n\s+([\d.,]+)\s+([\d.]+) \| ([\d.]+)\s+([\d.,]+)", out)
    assert best is not None
    assert (float(best[2]), float(best[1]), float(best[3]), float(best[4])) == (*end.bids(1)[0], *end.asks(1)[0])
    assert "tickers.BTCUSDT: last 100.7  mark 100.8  24h vol 12.5" in out
    assert "last trades of BTCUSDT (2 in all)" in out

    at = f"{T0 + 5000}"  # before frame 5: book at u=2, ticker after its first delta
    assert summary([str(tmp_path / "ds"), "--at", at]) == 0
    out = capsys.readouterr().out
    assert "orderbook.50.BTCUSDT: u=2  spread" in out and "last 100.7  mark 100.4" in out
    assert summary([str(tmp_path / "ds"), "--at", "whenever"]) == 1
    assert "--at 'whenever' is not a time" in capsys.readouterr().err


def test_make_dataset_records_what_the_demo_shows_and_queries_it(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    recipe = (ROOT / "Makefile").read_text().split("\ndataset:", 1)[1].split("\n\n", 1)[0]
    record = re.search(r"rxbybit record (.*?) --format parquet", re.sub(r"\\\n\s*", " ", recipe), re.S)
    assert record is not None and "python -m rxbybit.recordings recording" in recipe
    topics = record[1].split()
    demo = argparse.ArgumentParser()
    add_arguments(demo)
    d = demo.parse_args([])
    shown = {T.orderbook(d.symbol, d.depth, d.category).name, f"publicTrade.{d.symbol}", f"tickers.{d.symbol}"}
    assert shown <= set(topics), f"make dataset records {topics}, the demo shows {sorted(shown)}"

    out_dir = tmp_path / "recording"
    assert cli(["record", *topics, "--format", "parquet", "-o", str(out_dir), "--count", "150",
                "--duration", "30"]) == 0
    capsys.readouterr()
    assert summary([str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"orderbook\.50\.BTCUSDT: u=\d+  spread [\d.]+  mid [\d.]+", out), out
    assert re.search(r"tickers\.BTCUSDT: last [\d.]+  mark [\d.]+", out), out
    assert re.search(r"last trades of BTCUSDT \([1-9]\d* in all\)", out), out
