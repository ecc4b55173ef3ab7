"""Record what a client receives, replay it as a network: labelled REPLAY, streams complete at the end."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers import eventually, scaled
from reactivex import operators as rx_ops

import rxbybit as rb
from rxbybit import ops
from rxbybit.protocol.json_codec import dumps
from rxbybit.sim import Simulator


def _trade_frame(i: int) -> str:
    return dumps({"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1_700_000_000_000 + i,
                  "data": [{"T": 1_700_000_000_000 + i, "s": "BTCUSDT", "S": "Buy", "v": "0.01",
                            "p": f"{60000 + i}.5", "L": "PlusTick", "i": f"t-{i}", "BT": False}]})


def _lines(n: int) -> list[str]:
    return [dumps({"t": 1000.0 + i * 0.01, "path": "/v5/public/linear", "frame": _trade_frame(i)}) for i in range(n)]


async def test_a_replayed_stream_is_labelled_replay_and_completes_with_every_frame(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text("\n".join(_lines(25)) + "\n")
    replay = rb.replay(path, speed=0)
    async with rb.Bybit(network=replay) as bybit:
        trades = bybit.trades("BTCUSDT")
        assert trades.provenance is rb.Provenance.REPLAY and bybit.provenance is rb.Provenance.REPLAY
        frame = trades.pipe(rx_ops.map(lambda t: t), ops.to_frame(100))
        got = await asyncio.wait_for(trades.pipe(rx_ops.to_list()), scaled(20))
    assert [t.trade_id for t in got] == [f"t-{i}" for i in range(25)]
    assert replay.ended and frame.completed and "REPLAY" in repr(frame)
    assert frame.df["price"].iloc[-1] == 60024.5


async def test_paused_holds_the_playback_until_started(tmp_path: Path) -> None:
    replay = rb.replay(_lines(5), speed=0, paused=True)
    async with rb.Bybit(network=replay) as bybit:
        seen: list[object] = []
        done = asyncio.Event()
        bybit.trades("BTCUSDT").subscribe(seen.append, on_completed=done.set)
        await bybit.wait_subscribed(scaled(10))
        assert seen == [] and not replay.ended  # subscribed and acknowledged, but nothing played
        await replay.start()
        await asyncio.wait_for(done.wait(), scaled(20))
    assert len(seen) == 5


def test_replay_refuses_what_it_cannot_play(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no recording"):
        rb.replay(tmp_path / "missing.jsonl")
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="known kinds"):
        rb.replay(tmp_path / "x.csv")
    with pytest.raises(ValueError, match="line 1"):
        rb.replay(["not json"])
    with pytest.raises(ValueError, match="speed"):
        rb.replay(_lines(1), speed=-1)


@pytest.mark.parametrize("old", [False, True])
def test_the_old_start_flag_is_refused_with_what_to_use_instead(tmp_path: Path, old: bool) -> None:
    """``start`` was a bool (False: hold the playback); it is a time now, and a bool is never read as one."""
    path = tmp_path / "rec.jsonl"
    path.write_text("\n".join(_lines(3)) + "\n")
    instead = "paused=True" if old is False else "leave start out"
    for call in (lambda: rb.replay(path, start=old), lambda: rb.replay(_lines(3), start=old),
                 lambda: rb.Replay(_lines(3), start=old)):
        with pytest.raises(TypeError, match=f"start={old}.*time window.*{instead}"):
            call()


async def test_a_recording_of_the_simulator_replays_the_same_trades(tmp_path: Path) -> None:
    path = tmp_path / "sim.jsonl"
    async with Simulator(host="127.0.0.1", port=0, seed=3, symbols=("BTCUSDT",), speed=20.0) as sim, \
            rb.Bybit(sim.url) as live:
        live_trades: list[str] = []
        async with rb.Recorder(live, path, topics=["publicTrade.BTCUSDT"]) as rec:
            sub = live.trades("BTCUSDT").subscribe(lambda t: live_trades.append(t.trade_id))
            await eventually(lambda: len(live_trades) >= 5, what="five live trades")
            sub.dispose()
        assert rec.frames > 0 and "stopped" in repr(rec)
    replay = rb.replay(path, speed=0)
    async with rb.Bybit(network=replay) as bybit:
        got = await asyncio.wait_for(bybit.trades("BTCUSDT").pipe(rx_ops.to_list()), scaled(20))
    assert [t.trade_id for t in got][: len(live_trades)] == live_trades


async def test_a_client_pointed_at_the_simulator_by_url_labels_its_data_simulated() -> None:
    async with Simulator(host="127.0.0.1", port=0, seed=3, symbols=("BTCUSDT",)) as sim, rb.Bybit(sim.url) as bybit:
        trades = bybit.trades("BTCUSDT")
        frame = trades.pipe(ops.to_frame(100))
        await asyncio.wait_for(trades.pipe(rx_ops.take(1)), scaled(15))
        assert bybit.simulated and trades.provenance is rb.Provenance.SIMULATED
        assert "SIMULATED" in repr(frame) and frame.simulated
        health = await asyncio.wait_for(bybit.health.pipe(rx_ops.take(1)), scaled(5))
        assert health.simulated
        frame.close()


def test_combining_streams_keeps_the_strongest_label() -> None:
    sim = rb.Stream(lambda o, s: o.on_completed(), rb.Provenance.SIMULATED)  # type: ignore[arg-type]
    live = rb.Stream(lambda o, s: o.on_completed(), rb.Provenance.LIVE)  # type: ignore[arg-type]
    rep = rb.Stream(lambda o, s: o.on_completed(), rb.Provenance.REPLAY)  # type: ignore[arg-type]
    assert ops.combine_latest(sim, live).provenance is rb.Provenance.SIMULATED
    assert ops.merge(live, live).provenance is rb.Provenance.LIVE
    assert ops.zip(sim, rep).provenance is rb.Provenance.REPLAY
    assert ops.combine_latest(sim, live).pipe(rx_ops.map(lambda x: x)).provenance is rb.Provenance.SIMULATED


async def test_the_replay_server_of_rxbybit_sim_announces_a_replay(tmp_path: Path) -> None:
    from rxbybit.sim.replay import ReplayServer

    async with ReplayServer(_lines(3), speed=0) as server, rb.Bybit(server.url) as bybit:
        trades = bybit.trades("BTCUSDT")
        await asyncio.wait_for(trades.pipe(rx_ops.take(1)), scaled(15))
        assert trades.provenance is rb.Provenance.REPLAY and bybit.simulated


async def test_a_parquet_dataset_replays_through_the_same_entry_point(tmp_path: Path) -> None:
    from rxbybit.recordings import DatasetWriter

    with DatasetWriter(tmp_path / "ds") as writer:
        for i in range(6):
            writer.write("/v5/public/linear", _trade_frame(i), 1000.0 + i * 0.01)
    replay = rb.replay(tmp_path / "ds", speed=0)
    assert len(replay.records) == 6
    async with rb.Bybit(network=replay) as bybit:
        got = await asyncio.wait_for(bybit.trades("BTCUSDT").pipe(rx_ops.to_list()), scaled(20))
    assert [t.trade_id for t in got] == [f"t-{i}" for i in range(6)]
