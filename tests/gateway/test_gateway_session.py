"""A session's rate limit and flood handling on a fake clock: no sockets, no sleeps."""

from __future__ import annotations

import json

from rxbybit.gateway import ErrorCode, Limits
from rxbybit.gateway.session import POLICY_VIOLATION, Session

from .fakes import FakeHub, FakeVerifier, Outbox

REQUEST = json.dumps({"path": "/external", "payload": {"direction": "spot"}})


class Clock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _session(limits: Limits) -> tuple[Session, Outbox, Clock]:
    clock, out = Clock(), Outbox()
    session = Session(FakeHub(), out, FakeVerifier(), limits, clock=clock)  # type: ignore[arg-type]
    return session, out, clock


async def test_past_the_burst_one_error_then_silence_until_the_rate_drops() -> None:
    session, out, clock = _session(Limits(rate=10.0, burst=5.0, max_rate_violations=100))
    for _ in range(8):
        await session.receive(REQUEST)
    kinds = [f.get("code", f["type"]) for f in out.frames]
    assert kinds == ["ack"] * 5 + [ErrorCode.RATE_LIMITED], "one error for the whole excess, then nothing"
    assert "at most 10 per second (bursts of 5)" in out.frames[-1]["message"]

    clock.now += 0.15  # one and a half tokens back at 10 per second
    await session.receive(REQUEST)
    assert out.frames[-1]["type"] == "ack", "allowed again once the rate drops"
    await session.receive(REQUEST)
    assert out.frames[-1]["code"] == ErrorCode.RATE_LIMITED, "a new excess gets a new error"
    assert out.closed is None and not session.closed


async def test_a_sustained_flood_closes_the_connection_and_old_refusals_are_forgotten() -> None:
    session, out, clock = _session(Limits(rate=1.0, burst=1.0, max_rate_violations=5, violation_window=10.0))
    await session.receive(REQUEST)  # the one token
    for _ in range(5):  # five refusals: at the limit, not over it
        await session.receive(REQUEST)
    clock.now += 10.5  # those refusals leave the window (and ten tokens come back, capped at the burst of 1)
    await session.receive(REQUEST)
    assert out.frames[-1]["type"] == "ack"
    for _ in range(5):
        await session.receive(REQUEST)
    assert out.closed is None, "five refusals in the window are tolerated"
    await session.receive(REQUEST)
    assert out.closed == (POLICY_VIOLATION, "flooding")
    assert out.frames[-1]["code"] == ErrorCode.RATE_LIMITED and "kept flooding" in out.frames[-1]["message"]
    assert session.closed
    before = len(out.frames)
    await session.receive(REQUEST)
    assert len(out.frames) == before, "a closed session answers nothing"
