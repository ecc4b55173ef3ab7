"""The simulator's parts: imports flow one way, and each part works with only what it is handed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rxbybit.sim.clock import STEP_MS, Clock, VirtualTime

SIM = Path(__file__).resolve().parents[2] / "rxbybit" / "sim"
FACADE_USERS = {"rxbybit.sim", "rxbybit.sim.embedded", "rxbybit.sim.cli"}
"""The only modules that may know the assembled ``Simulator``; its parts never do."""


def _name(path: Path) -> str:
    parts = list(path.relative_to(SIM.parents[1]).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sim_imports(path: Path) -> set[str]:
    """The ``rxbybit.sim`` modules ``path`` imports (every import, TYPE_CHECKING ones too)."""
    me = _name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                module = sub if (SIM.parents[1] / Path(*sub.split("."))).with_suffix(".py").exists() else target
                out.add(module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith("rxbybit.sim") and m != me}


def _graph() -> dict[str, set[str]]:
    return {_name(p): _sim_imports(p) for p in SIM.rglob("*.py")}


def test_the_sim_modules_import_each_other_without_a_cycle() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join((*path[path.index(module):], module)))
        if module in done:
            return
        for dep in sorted(graph.get(module, ())):
            visit(dep, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())
    assert "rxbybit.sim.pushes" in graph and len(graph) > 20  # the walk saw the package


def test_no_part_knows_the_assembled_simulator() -> None:
    users = {m for m, deps in _graph().items() if "rxbybit.sim.server" in deps}
    assert users <= FACADE_USERS, users - FACADE_USERS


class _Market:
    def __init__(self) -> None:
        self.steps: list[int] = []

    def step(self, t_ms: int) -> None:
        self.steps.append(t_ms)


def test_clock_steps_every_market_each_step_and_pushes_due_feeds_every_cycle() -> None:
    vtime = VirtualTime(speed=2.0, start_ms=1_000)
    markets = [_Market(), _Market()]
    calls: list[str] = []
    due: list[tuple[float, int]] = []
    clock = Clock(vtime, markets, after_step=lambda: calls.append("after_step"),
                  push_due=lambda vt, now: due.append((vt, now)), flush=lambda: calls.append("flush"))
    clock.tick()  # virtual time 0: the first step is due
    vtime.advance(0.004)  # 4 wall ms at speed 2: 8 virtual ms, within the same step
    clock.tick()
    vtime.advance(0.006)  # 20 virtual ms in all: the next step
    clock.tick()
    assert [m.steps for m in markets] == [[1_000, 1_000 + STEP_MS]] * 2
    assert calls == ["after_step", "flush", "flush", "after_step", "flush"]
    assert due == [(0.0, 1_000), (8.0, 1_008), (20.0, 1_020)]
    assert vtime.now_ms() == 1_000 + STEP_MS


def test_virtual_time_refuses_a_speed_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="speed must be positive"):
        VirtualTime(speed=0)
