"""Render fixtures for the frames, ops and widgets tests (loaded by tests/conftest.py as a plugin)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rxbybit.display import RenderScheduler, set_cell_provider, set_render_scheduler


@pytest.fixture
def renderer() -> Iterator[RenderScheduler]:
    """A fresh global render scheduler (no loop: tests flush or tick by hand)."""
    sched = RenderScheduler(max_updates_per_s=30)
    old = set_render_scheduler(sched)
    yield sched
    set_render_scheduler(old)


@pytest.fixture(autouse=True)
def _no_cells() -> Iterator[None]:
    """No IPython cell tracking unless a test installs a provider."""
    old = set_cell_provider(lambda: None)
    yield
    set_cell_provider(old)
