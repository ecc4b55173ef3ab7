"""Replay mode: a JSONL recording served back over the endpoint it was recorded on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sim_wsclient import WsClient
from websockets.asyncio.client import connect

from rxbybit.sim import ReplayServer, load_recording


def _record(tmp_path: Path) -> Path:
    lines = []
    for i in range(5):
        for topic in ("orderbook.1.BTCUSDT", "publicTrade.BTCUSDT"):
            frame = {"topic": topic, "type": "snapshot", "ts": 1_700_000_000_000 + i, "data": {"n": i}}
            lines.append({"t": 1_700_000_000.0 + i * 0.01, "path": "/v5/public/linear", "frame": json.dumps(frame)})
    lines.append({"t": 1_700_000_000.5, "path": "/v5/public/linear", "frame": '{"success":true,"op":"subscribe"}'})
    path = tmp_path / "rec.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


async def test_replay_sends_only_subscribed_topics_in_recorded_order(tmp_path: Path) -> None:
    async with ReplayServer(_record(tmp_path), speed=0) as server, connect(server.url + "/v5/public/linear") as ws:
        c = WsClient(ws)
        await c.send({"req_id": "r", "op": "subscribe", "args": ["orderbook.1.BTCUSDT"]})
        ack = await c.recv()
        assert ack["success"] is True and ack["req_id"] == "r"
        got = [await c.recv() for _ in range(5)]
        await c.send({"op": "ping"})
        pong = await c.recv()
    assert [m["data"]["n"] for m in got] == [0, 1, 2, 3, 4]
    assert {m["topic"] for m in got} == {"orderbook.1.BTCUSDT"}
    assert pong["ret_msg"] == "pong"


def test_a_bad_recording_line_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="line 2"):
        load_recording(['{"t": 1, "path": "/v5/public/spot", "frame": "{}"}', '{"t": "x"}'])
    with pytest.raises(ValueError, match="unknown path"):
        load_recording(['{"t": 1, "path": "/nope", "frame": "{}"}'])
    assert len(load_recording(_record(tmp_path))) == 11
