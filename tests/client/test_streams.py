"""Fan-out semantics: reference counting and isolation of observer exceptions."""

from __future__ import annotations

import pytest

from rxbybit.client.streams import Fanout


def make(reported: list[str] | None = None) -> tuple[Fanout[int], list[str]]:
    calls: list[str] = []
    report = None if reported is None else (lambda name, exc: reported.append(name))
    fan: Fanout[int] = Fanout("t", lambda: calls.append("start"), lambda: calls.append("stop"),
                              on_observer_error=report)
    return fan, calls


def test_first_observer_starts_and_last_stops_the_source() -> None:
    fan, calls = make()
    a = fan.observable.subscribe(lambda v: None)
    b = fan.observable.subscribe(lambda v: None)
    assert calls == ["start"]
    a.dispose()
    assert calls == ["start"]
    b.dispose()
    assert calls == ["start", "stop"]
    fan.observable.subscribe(lambda v: None)
    assert calls == ["start", "stop", "start"]


def test_an_observer_that_raises_is_detached_and_the_others_keep_receiving() -> None:
    reported: list[str] = []
    fan, _ = make(reported)
    got: list[int] = []
    errors: list[Exception] = []

    def bad(v: int) -> None:
        raise ZeroDivisionError("user bug")

    fan.observable.subscribe(bad, on_error=errors.append)
    fan.observable.subscribe(got.append)
    fan.emit(1)
    fan.emit(2)
    assert got == [1, 2]
    assert len(errors) == 1 and isinstance(errors[0], ZeroDivisionError)
    assert reported == ["t"]
    assert fan.count == 1


def test_error_ends_current_observers_and_new_ones_start_afresh() -> None:
    fan, calls = make()
    errs: list[Exception] = []
    fan.observable.subscribe(lambda v: None, on_error=errs.append)
    fan.error(RuntimeError("rejected"))
    assert [str(e) for e in errs] == ["rejected"]
    assert fan.count == 0
    got: list[int] = []
    fan.observable.subscribe(got.append)
    fan.emit(5)
    assert got == [5]
    assert calls == ["start", "start"]


def test_complete_completes_observers_and_later_subscribers() -> None:
    fan, _ = make()
    done: list[str] = []
    fan.observable.subscribe(lambda v: None, on_completed=lambda: done.append("a"))
    fan.complete()
    fan.observable.subscribe(lambda v: None, on_completed=lambda: done.append("b"))
    assert done == ["a", "b"]


def test_source_failing_to_start_propagates_and_leaves_no_observer() -> None:
    def boom() -> None:
        raise RuntimeError("no running event loop")

    fan: Fanout[int] = Fanout("t", boom, lambda: None)
    errors: list[Exception] = []
    fan.observable.subscribe(lambda v: None, on_error=errors.append)
    assert fan.count == 0
    assert errors and "no running event loop" in str(errors[0])


@pytest.mark.parametrize("n", [1, 3])
def test_emit_reaches_each_observer_once(n: int) -> None:
    fan, _ = make()
    got: list[list[int]] = [[] for _ in range(n)]
    for g in got:
        fan.observable.subscribe(g.append)
    fan.emit(7)
    assert got == [[7]] * n
