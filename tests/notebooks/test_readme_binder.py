"""README and Binder: how to open the notebooks, the widget and trading examples, replay, a Binder link
into the quickstart, pinned Binder versions that match what the tests run with."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement

from .conftest import ROOT

README = (ROOT / "README.md").read_text()
BINDER = ROOT / "binder"


def test_readme_says_how_to_open_the_notebooks_and_shows_the_views() -> None:
    assert "make lab" in README and "lab:" in (ROOT / "Makefile").read_text()
    for needle in ("rb.widgets.LiveTable(", "rb.widgets.LineChart(", "rb.widgets.StatusBar(", "docs/live-views.md"):
        assert needle in README, needle
    assert "await private.wait_subscribed()" in README
    assert README.index("wait_subscribed()") < README.index("create_order(")
    assert "rxbybit tail publicTrade.BTCUSDT" in README
    assert "rb.replay(" in README and "rb.Recorder(" in README
    assert "urlpath=lab/tree/notebooks/01_quickstart.ipynb" in README
    assert "installs Debian's `chromium`" in README


def test_binder_pins_every_runtime_dependency_exactly_within_pyprojects_ranges() -> None:
    lines = [x for x in (BINDER / "requirements.txt").read_text().splitlines() if x and not x.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", line) for line in lines), lines
    pins = {name.lower().replace("_", "-"): v for name, v in (line.split("==") for line in lines)}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for dep in map(Requirement, project["dependencies"]):
        name = dep.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned for Binder"
        assert dep.specifier.contains(pins[name]), (name, pins[name], str(dep.specifier))
    assert "jupyterlab" in pins
    assert "--no-deps" in (BINDER / "postBuild").read_text()
    assert re.fullmatch(r"python-3\.11\s*", (BINDER / "runtime.txt").read_text())


def test_the_gateway_notebook_says_its_page_is_not_reachable_from_binder() -> None:
    text = (ROOT / "notebooks" / "05_gateway.ipynb").read_text()
    assert "Binder" in text and "not reachable" in text
