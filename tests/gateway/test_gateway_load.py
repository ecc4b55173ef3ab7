"""A gateway that cannot keep up refuses new connections at once (HTTP 503), and a burst of frames to
one connection in one event-loop turn goes out in order, as one socket write."""

from __future__ import annotations

import time
from typing import Any

import pytest
from helpers import eventually, scaled
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from rxbybit.gateway import Gateway, Limits, UserStore
from rxbybit.gateway.envelopes import event
from rxbybit.gateway.load import LoopLag
from rxbybit.gateway.outbox import WsOutbox
from rxbybit.gateway.session import Session
from rxbybit.transport.ws_internals import text_frame

from .conftest import TEST_LIMITS, make_gateway, open_client

# ---------------------------------------------------------------------------- the lag gauge (time passed in)


def test_lag_over_the_limit_refuses_for_the_hold_then_admits_again() -> None:
    lag = LoopLag(0.5, hold=5.0, samples=3)
    lag.sample(0.49, now=100.0)
    assert not lag.overloaded(100.0)
    lag.sample(0.8, now=100.8)
    lag.sample(0.7, now=101.5)
    assert not lag.overloaded(101.5), "two late samples are not yet an overload"
    lag.sample(0.9, now=102.4)
    assert lag.overloaded(102.4) and lag.overloaded(107.3)
    assert not lag.overloaded(107.5), "refused past the hold"
    lag.sample(0.1, now=107.6)
    assert not lag.overloaded(107.6)
    assert (lag.peak, lag.overloads, lag.last, lag.run) == (0.9, 3, 0.1, 0)
    lag.reset()
    assert (lag.peak, lag.overloads) == (0.0, 0)


def test_one_stall_is_not_an_overload() -> None:
    """A notebook cell that holds the loop an embedded gateway shares makes one late sample: the
    next connection must still be admitted, however long the stall was."""
    lag = LoopLag(0.5, hold=5.0, samples=3)
    assert not lag.overloaded(now=40.0, due=10.0)  # the probe is 30 s late, nothing before it was
    lag.sample(30.0, now=40.0)
    assert not lag.overloaded(40.0)
    lag.sample(0.01, now=40.2)
    lag.sample(5.0, now=45.2)  # another stall, not in a row
    assert not lag.overloaded(45.2)


def test_a_probe_late_now_completes_a_run_before_it_runs() -> None:
    lag = LoopLag(0.5, hold=5.0, samples=3)
    lag.sample(0.8, now=9.0)
    lag.sample(0.55, now=9.9)
    assert not lag.overloaded(now=10.4, due=10.0)
    assert lag.overloaded(now=10.6, due=10.0)
    assert lag.behind(now=10.6, due=10.0) == pytest.approx(0.6)  # the later of the last sample and now


def test_no_limit_never_refuses_and_bad_settings_are_named() -> None:
    lag = LoopLag(None, hold=5.0)
    lag.sample(30.0, now=1.0)
    assert not lag.overloaded(1.0, due=-100.0)
    assert lag.peak == 30.0
    with pytest.raises(ValueError, match="max_loop_lag"):
        LoopLag(0.0, hold=1.0)
    with pytest.raises(ValueError, match="overload_hold"):
        LoopLag(1.0, hold=-1.0)
    with pytest.raises(ValueError, match="overload_samples"):
        LoopLag(1.0, hold=1.0, samples=0)
    with pytest.raises(ValueError, match="loop_lag_interval"):
        Gateway("sim", limits=Limits(loop_lag_interval=0.0))


# ---------------------------------------------------------------------------- refusal at the door


def _block_loop(seconds: float) -> None:
    """Keep the event loop busy (no await) for ``seconds``: the lag a saturated gateway has."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


LAGGY = dict(max_loop_lag=0.05, loop_lag_interval=0.01, overload_hold=3600.0)
"""The probe samples every 10 ms and 50 ms of lag is overload; refusals last the whole test."""


async def test_an_overloaded_gateway_refuses_new_connections_and_serves_open_ones(store: UserStore) -> None:
    limits = Limits(**{**{f: getattr(TEST_LIMITS, f) for f in TEST_LIMITS.__dataclass_fields__}, **LAGGY})
    async with make_gateway(store, limits=limits) as gw:
        client = await open_client(gw)  # admitted while the loop keeps up
        try:
            assert (await client.request("/external", {"direction": "spot", "op": "ping"}))["type"] == "ack"
            for n in range(1, gw.load.samples + 1):  # stalls in a row: the probe wakes late every time
                _block_loop(0.1)  # the probe, due every 10 ms, wakes at least 0.09 s late
                await eventually(lambda n=n: gw.load.run >= n, what="the probe to see the lag")
            assert gw.load.peak > 0.05
            with pytest.raises(InvalidStatus) as caught:
                await connect(gw.url)
            response = caught.value.response
            assert response.status_code == 503
            assert b"overloaded" in response.body and b"ms" in response.body, response.body
            assert response.headers["Retry-After"] == "3600"
            assert gw.refused["overloaded"] == 1
            # the connection already open keeps its service
            assert (await client.request("/external", {"direction": "spot", "op": "ping"}))["type"] == "ack"
        finally:
            await client.close()


async def test_without_a_lag_limit_a_lagging_gateway_still_admits(store: UserStore) -> None:
    limits = Limits(**{**{f: getattr(TEST_LIMITS, f) for f in TEST_LIMITS.__dataclass_fields__}, **LAGGY,
                       "max_loop_lag": None})
    async with make_gateway(store, limits=limits) as gw:
        first = await open_client(gw)  # the gateway is up and its probe running
        try:
            assert (await first.request("/external", {"direction": "spot", "op": "ping"}))["type"] == "ack"
            for _ in range(3):  # stalls in a row, each seen by the probe
                gw.load.reset()
                _block_loop(0.1)
                await eventually(lambda: gw.load.peak > 0.05, what="the probe to see the lag")
            second = await open_client(gw)
            try:
                assert (await second.request("/external", {"direction": "spot", "op": "ping"}))["type"] == "ack"
                assert gw.refused["overloaded"] == 0
            finally:
                await second.close()
        finally:
            await first.close()


# ---------------------------------------------------------------------------- one write per burst, in order


class _WriteSpy:
    """Records each write to a connection's socket (and passes it on)."""

    def __init__(self, transport: Any) -> None:
        self.writes: list[bytes] = []
        self._write = transport.write
        transport.write = self

    def __call__(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self._write(data)


def _events(n: int, start: int = 0) -> list[bytes]:
    return [event("/symbols", {"n": i, "pad": "x" * 200}) for i in range(start, start + n)]


async def _session_of(gw: Gateway) -> tuple[Session, WsOutbox]:
    await eventually(lambda: len(gw.sessions) == 1, what="the session")
    session = next(iter(gw.sessions))
    assert isinstance(session.outbox, WsOutbox)
    return session, session.outbox


async def test_a_burst_in_one_turn_is_one_socket_write_in_order_after_the_first(gateway: Gateway) -> None:
    client = await open_client(gateway)
    try:
        session, outbox = await _session_of(gateway)
        spy = _WriteSpy(outbox.ws.transport)
        burst = _events(5)
        for data in burst:  # one turn of the event loop: no await in between
            session.deliver(data, text_frame(data))
        assert spy.writes == [text_frame(burst[0])], "the first frame of a turn is written at once"
        assert outbox.buffered() >= sum(len(text_frame(d)) for d in burst[1:]), "kept bytes count as unsent"
        await eventually(lambda: len(spy.writes) == 2, what="the end of the turn")
        assert spy.writes[1] == b"".join(text_frame(d) for d in burst[1:])
        got = [await client.recv() for _ in burst]
        assert [m["data"]["n"] for m in got] == [0, 1, 2, 3, 4]
    finally:
        await client.close()


async def test_an_ack_or_a_close_in_the_same_turn_comes_after_the_kept_frames(gateway: Gateway) -> None:
    client = await open_client(gateway)
    try:
        session, outbox = await _session_of(gateway)
        first, second = _events(2), _events(2, start=2)
        for data in first:
            session.deliver(data, text_frame(data))
        outbox.send('{"type":"ack","path":"/test","data":{}}')  # what a request's answer does
        for data in second:
            session.deliver(data, text_frame(data))
        outbox.close(1000, "bye")
        seen = [await client.recv() for _ in range(5)]
        assert [m.get("data", {}).get("n", m["type"]) for m in seen] == [0, 1, "ack", 2, 3]
        assert await client.closed_by_gateway(timeout=scaled(5)) == 1000
    finally:
        await client.close()


async def test_nothing_kept_is_written_into_a_connection_that_went_away(gateway: Gateway) -> None:
    client = await open_client(gateway)
    session, outbox = await _session_of(gateway)
    spy = _WriteSpy(outbox.ws.transport)
    burst = _events(3)
    for data in burst:
        session.deliver(data, text_frame(data))
    outbox.ws.transport.abort()  # the TCP connection is going away before the turn ends
    await eventually(lambda: not gateway.sessions, what="the session to end")
    assert spy.writes == [text_frame(burst[0])], "kept frames were written into a closing transport"
    await client.close()


def test_only_a_served_gateway_refuses_for_load_by_default() -> None:
    """An embedded Gateway shares its event loop with the program or notebook around it, so its
    loop lag says nothing about the gateway: it never refuses for load unless told to. The served
    gateway owns its loop and refuses at 0.5 s unless ``--max-loop-lag`` says otherwise."""
    import argparse

    from rxbybit.gateway import cli as gateway_cli
    from rxbybit.gateway.limits import SERVED_MAX_LOOP_LAG

    assert Limits().max_loop_lag is None and Gateway("sim").load.limit is None
    parser = argparse.ArgumentParser()
    gateway_cli.add_arguments(parser)
    for argv, want in (([], SERVED_MAX_LOOP_LAG), (["--max-loop-lag", "2"], 2.0), (["--max-loop-lag", "0"], None)):
        assert gateway_cli._limits(parser.parse_args(argv)).max_loop_lag == want, argv
