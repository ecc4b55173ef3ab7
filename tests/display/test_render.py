"""The global render scheduler: sample semantics, per-view and global caps, virtual time."""

from __future__ import annotations

import itertools

import pytest
from frames_helpers import trade
from helpers import eventually
from reactivex.testing import TestScheduler

from rxbybit.display import LiveBinding, LiveHTML, RenderJob, RenderScheduler, set_cell_provider
from rxbybit.frames import LiveFrame


class View:
    """A fake view: state is ingested instantly, render records what it saw."""

    def __init__(self, sched: RenderScheduler, fps: float, clock: TestScheduler | None = None) -> None:
        self.state = 0
        self.seen: list[tuple[float, int]] = []
        self.clock = clock
        self.job: RenderJob = sched.register(self.render, max_fps=fps)

    def ingest(self, v: int) -> None:
        self.state = v
        self.job.mark_dirty()

    def render(self) -> None:
        self.seen.append((self.clock.now.timestamp() if self.clock else 0.0, self.state))


def test_a_burst_renders_its_last_value_at_the_per_view_rate() -> None:
    ts = TestScheduler()
    sched = RenderScheduler(100, scheduler=ts)
    v = View(sched, fps=4, clock=ts)
    for i in range(1000):  # 1000 messages over 2 virtual seconds
        ts.schedule_absolute(i * 0.002, lambda *_a, i=i: v.ingest(i))
    ts.start()
    values = [s for _, s in v.seen]
    assert values[-1] == 999  # the newest state always ends up on screen
    times = [t for t, _ in v.seen]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.25 - 1e-6  # never faster than 4 fps
    assert 6 <= len(v.seen) <= 10  # about 2 s x 4 fps, not 1000


def test_the_global_cap_holds_across_many_views() -> None:
    ts = TestScheduler()
    sched = RenderScheduler(20, scheduler=ts)
    views = [View(sched, fps=10, clock=ts) for _ in range(10)]  # 100 renders/s wanted, 20 allowed
    for i in range(2000):
        ts.schedule_absolute(i * 0.001, lambda *_a, i=i: [v.ingest(i) for v in views])
    ts.start()
    times = sorted(t for v in views for t, _ in v.seen)
    assert len(times) >= 20  # the cap is used, not starved
    for i, t in enumerate(times):  # no one-second span holds more than cap + burst renders
        in_window = sum(1 for u in times[i:] if u < t + 1.0)
        assert in_window <= 20 + sched.burst
    assert all(v.seen and v.seen[-1][1] == 1999 for v in views)  # every view got its newest state


def test_without_a_loop_nothing_renders_until_flush() -> None:
    sched = RenderScheduler(30)
    v = View(sched, fps=4)
    v.ingest(1)
    v.ingest(2)
    assert v.seen == []
    assert sched.flush() == 1
    assert [s for _, s in v.seen] == [2]
    assert sched.flush() == 0  # nothing dirty


def test_tick_respects_the_per_view_interval_and_disposed_jobs_stop() -> None:
    sched = RenderScheduler(30)
    v = View(sched, fps=1)
    v.ingest(1)
    assert sched.tick() == 1
    v.ingest(2)
    assert sched.tick() == 0  # less than a second later
    v.job.dispose()
    v.ingest(3)
    assert sched.flush() == 0 and sched.jobs == 0
    with pytest.raises(ValueError):
        sched.register(lambda: None, max_fps=0)


def test_a_failing_render_does_not_stop_other_views() -> None:
    sched = RenderScheduler(30)

    def broken() -> None:
        raise RuntimeError("bad view")

    sched.register(broken).mark_dirty()
    good = View(sched, fps=4)
    good.ingest(5)
    assert sched.flush() == 2
    assert good.seen[-1][1] == 5


async def test_on_a_running_loop_the_timer_renders_by_itself() -> None:
    sched = RenderScheduler(100)
    v = View(sched, fps=50)
    v.ingest(7)
    await eventually(lambda: bool(v.seen), what="the scheduler's timer to render")
    assert [s for _, s in v.seen] == [7]


def test_live_binding_pauses_without_views_and_close_disposes_everything() -> None:
    sched = RenderScheduler(30)
    w = LiveHTML(value="")
    renders: list[int] = []
    b = LiveBinding(w, lambda: renders.append(1), scheduler=sched)
    disposed: list[bool] = []

    class D:
        def dispose(self) -> None:
            disposed.append(True)

    b.own(D())
    w._view_count = 1  # the frontend shows it
    b.changed()
    assert sched.flush() == 1
    w._view_count = 0  # output cleared: stop refreshing
    assert b.paused
    b.changed()
    assert sched.flush() == 0
    w._view_count = 2  # shown again: resumes with a fresh render
    assert sched.flush() == 1
    w.close()
    assert b.closed and disposed == [True] and sched.jobs == 0


def test_liveframe_widget_refreshes_through_the_scheduler(renderer: RenderScheduler) -> None:
    f = LiveFrame(10, simulated=True, scheduler=renderer)
    f.append(trade(0, 1.0))
    w = f.widget()
    assert "SIMULATED" in w.value
    f.append(trade(1, 123.25))
    assert "123.25" not in w.value  # not until the scheduler renders
    renderer.flush()
    assert "123.25" in w.value
    bundle = f._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "text/html" in bundle
    f.close()
    assert renderer.jobs == 0


def test_rerunning_a_cell_closes_what_its_previous_run_made() -> None:
    from reactivex.subject import Subject

    from rxbybit import ops

    cell = ["c1", 1]
    set_cell_provider(lambda: (str(cell[0]), int(cell[1])))
    s: Subject[object] = Subject()
    first = s.pipe(ops.to_frame())
    same_run = s.pipe(ops.to_frame())
    assert len(s.observers) == 2
    cell[1] = 2  # the same cell runs again
    second = s.pipe(ops.to_frame())
    assert first.closed and same_run.closed and not second.closed
    assert len(s.observers) == 1


def test_numbers_take_decimals_from_a_tick_size_and_lose_float_noise() -> None:
    from rxbybit.display import decimals_of, fmt_number, places_for, tidy

    assert decimals_of("0.00001") == 5 and decimals_of(0.5) == 1 and decimals_of("1") == 0 and decimals_of(None) is None
    assert decimals_of("0.10") == 1
    for bad in ("x", "0", -1):
        with pytest.raises(ValueError, match="tick size"):
            decimals_of(bad)
    assert places_for([0.15, 0.14523, 1.0]) == 5
    assert tidy(67248.95000000001) == 67248.95 and repr(tidy(67248.95000000001)) == "67248.95"
    assert fmt_number(0.15, 5) == "0.15000" and fmt_number(60000.5, 2) == "60,000.50"
    assert fmt_number(float("nan"), 2) == "" and fmt_number(None) == "" and fmt_number("Buy") == "Buy"


def test_the_custom_view_of_the_live_views_doc_renders_the_newest_state_only() -> None:
    import ipywidgets
    from reactivex.subject import Subject

    from rxbybit.display import LiveBinding, RenderScheduler

    sched = RenderScheduler()
    trades: Subject[object] = Subject()
    html = ipywidgets.HTML("waiting…")
    state: dict[str, float] = {"last": 0.0, "count": 0}
    renders: list[str] = []

    def render() -> None:
        html.value = f"<b>{state['last']:,.2f}</b> after {state['count']:,.0f} trades"
        renders.append(html.value)

    binding = LiveBinding(html, render, max_fps=4, name="last price", scheduler=sched)

    def take(trade: object) -> None:
        state["last"], state["count"] = float(trade), state["count"] + 1  # type: ignore[arg-type]
        binding.changed()

    binding.own(trades.subscribe(take))
    for p in (1.0, 2.0, 3.5):
        trades.on_next(p)
    assert renders == []  # nothing renders in on_next
    sched.flush()
    assert renders == ["<b>3.50</b> after 3 trades"]
    binding.close()
    assert trades.observers == []
