"""The command line: demo, tail and record (round-tripped through the simulator's replay mode)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from reactivex import operators as ops

import rxbybit as rb
from rxbybit.cli import main
from rxbybit.demo import DemoState, render
from rxbybit.sim import ReplayServer


def test_demo_runs_against_the_simulator_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--duration", "2", "--fps", "2"]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED DATA" in out
    assert "spread" in out and "health connected" in out


def test_render_before_any_data_waits_politely() -> None:
    state = DemoState("BTCUSDT", "mainnet", simulated=False)
    screen = render(state)
    assert "mainnet: connecting" in screen and "LIVE" not in screen and "waiting" in screen
    state.health = rb.Health("mainnet", False, "connected", {"linear": "connected"}, 0.0, None, 0, 0)
    assert "LIVE MAINNET" in render(state)


def test_tail_prints_decoded_events(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tail", "publicTrade.BTCUSDT", "--count", "2", "--duration", "20"]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("Trades(")]
    assert len(lines) >= 2


def test_tail_rejects_a_bad_topic_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tail", "orderbook.30.BTCUSDT", "--count", "1"]) == 2
    err = capsys.readouterr().err
    assert "depth 30" in err and len(err.strip().splitlines()) == 1


def test_record_then_replay_serves_the_same_frames(tmp_path: Path) -> None:
    out = tmp_path / "book.jsonl"
    assert main(["record", "orderbook.50.BTCUSDT", "-o", str(out), "--count", "30", "--duration", "20"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) >= 30
    assert all(r["path"] == "/v5/public/linear" and isinstance(r["t"], float) for r in records)
    book_frames = [r["frame"] for r in records if '"topic":"orderbook.50.BTCUSDT"' in r["frame"]]
    assert book_frames and '"type":"snapshot"' in book_frames[0]

    async def replay() -> list[int]:
        async with ReplayServer(out, speed=0) as server, rb.Bybit(server.url) as bybit:
            views = await bybit.orderbook("BTCUSDT", depth=50).pipe(ops.take(len(book_frames)), ops.to_list())
            return [v.u for v in views]

    replayed = asyncio.run(replay())
    recorded = [json.loads(f)["data"]["u"] for f in book_frames]
    assert replayed == recorded
