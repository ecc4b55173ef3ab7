"""The quickstart in a real browser: JupyterLab served on loopback, driven by Playwright in Debian's Chromium.

The test copies the quickstart into a temporary root, serves it with JupyterLab (token, ``--no-browser``,
127.0.0.1 on a free port, ``RXBYBIT_NETWORK=sim``), runs every cell but the last (which closes the client),
waits for the order-book ladder widget, reads its text twice and asserts that it changed, and keeps a
screenshot at ``artifacts/quickstart.png``. No browser is downloaded: the test fails (never skips) without
/usr/bin/chromium.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from .conftest import NOTEBOOKS, ROOT

ARTIFACTS = ROOT / "artifacts"
NOTEBOOK = "01_quickstart.ipynb"
CANDLES = "03_candles_and_indicators.ipynb"


@dataclass
class Lab:
    """A running JupyterLab: its base URL, token and log file."""

    url: str
    token: str
    log: Path

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, token: str) -> int:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return int(resp.status)


def _end_sessions(lab: Lab) -> None:
    """Shut down every kernel session (a notebook's kernel keeps streaming until then)."""
    headers = {"Authorization": f"token {lab.token}"}
    with urllib.request.urlopen(urllib.request.Request(f"{lab.url}/api/sessions", headers=headers), timeout=5) as r:
        sessions = json.loads(r.read())
    for session in sessions:
        req = urllib.request.Request(f"{lab.url}/api/sessions/{session['id']}", method="DELETE", headers=headers)
        urllib.request.urlopen(req, timeout=10).close()


def _stop(proc: subprocess.Popen[bytes], lab: Lab) -> None:
    """Ask the server to shut down (it stops its kernels), then end our own process group if it lingers."""
    try:
        req = urllib.request.Request(f"{lab.url}/api/shutdown", method="POST",
                                     headers={"Authorization": f"token {lab.token}"})
        urllib.request.urlopen(req, timeout=5).close()
    except (OSError, urllib.error.URLError):
        pass
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp_path = tmp_path_factory.mktemp("jupyterlab")
    root = tmp_path / "root"
    root.mkdir()
    for name in (NOTEBOOK, CANDLES):
        shutil.copy(NOTEBOOKS / name, root / name)
    # a python3 kernelspec pinned to this interpreter, first on JUPYTER_PATH
    spec = tmp_path / "data" / "kernels" / "python3"
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (rxbybit test)", "language": "python",
    }))
    # no news, no update checks, no extension manager: nothing tries to reach the internet
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    settings.joinpath("notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    # every cell in the DOM (no virtual windowing), so outputs can be found wherever they are
    tracker = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    tracker.joinpath("tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = dict(os.environ, RXBYBIT_NETWORK="sim", JUPYTER_PATH=str(tmp_path / "data"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    port, token = _free_port(), secrets.token_hex(16)
    lab = Lab(f"http://127.0.0.1:{port}", token, tmp_path / "jupyterlab.log")
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
           "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
           "--ServerApp.terminals_enabled=False"]
    if os.geteuid() == 0:  # CI containers run as root; the server is still bound to 127.0.0.1 with a token
        cmd.append("--allow-root")
    with lab.log.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"JupyterLab exited with {proc.returncode}:\n{lab.log_tail()}")
            try:
                if _get(f"{lab.url}/api/status", token) == 200:
                    break
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"JupyterLab did not answer within 60 s:\n{lab.log_tail()}")
            time.sleep(0.2)
        yield lab
    finally:
        _stop(proc, lab)


async def _run_all_but_the_last_cell(page: Page, cells: int) -> None:
    """Select the last cell (it closes the client) and use Run > Run All Above Selected Cell."""
    await page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputPrompt").click()
    await page.keyboard.press("Escape")  # command mode
    for _ in range(cells - 1):
        await page.keyboard.press("ArrowDown")
    await expect(page.locator(".jp-Notebook .jp-Cell").last).to_have_class(re.compile(r"jp-mod-selected"))
    await page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    await page.locator(".lm-Menu-itemLabel", has_text="Run All Above Selected Cell").click()


async def _changed_text(page: Page, selector: str, first: str, timeout: float) -> str:
    """Poll the element's text (bounded) until it differs from ``first``; return the last text read."""
    deadline = time.monotonic() + timeout
    text = first
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        text = await page.locator(selector).inner_text()
        if text != first:
            break
    return text


async def _open_and_run(page: Page, lab: Lab, name: str) -> None:
    """Open ``name`` in JupyterLab, wait for its kernel, and run every cell but the last."""
    workspace = name.removesuffix(".ipynb").replace("_", "-")  # a fresh workspace: no tabs of other tests
    await page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{name}?reset&token={lab.token}", timeout=60_000)
    cells = page.locator(".jp-Notebook .jp-Cell")
    await expect(cells.first).to_be_visible(timeout=60_000)
    await expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_be_attached(timeout=60_000)
    cells_in_file = len(json.loads((NOTEBOOKS / name).read_text())["cells"])
    await expect(cells).to_have_count(cells_in_file, timeout=30_000)
    await _run_all_but_the_last_cell(page, cells_in_file)


async def _no_error_outputs(page: Page) -> None:
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert await errors.count() == 0, await errors.all_inner_texts()


async def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    await page.screenshot(path=str(shot))
    print(f"screenshot: {shot}")


async def test_quickstart_runs_in_jupyterlab_and_its_ladder_updates_live(lab: Lab, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        await _open_and_run(page, lab, NOTEBOOK)
        ladder = ".jp-OutputArea-output .widget-html-content:has(tr.rxbybit-spread)"
        await expect(page.locator(ladder)).to_be_visible(timeout=60_000)
        await page.locator(ladder).scroll_into_view_if_needed()
        first = await page.locator(ladder).inner_text()
        second = await _changed_text(page, ladder, first, timeout=15)
        assert "SIMULATED" in first, first
        assert "spread" in first and "price" in first, first
        assert second != first, f"the ladder did not change within 15 s:\n{first}"

        tape = page.locator(".jp-OutputArea-output .rxbybit-liveframe")
        await expect(tape.first).to_contain_text("SIMULATED", timeout=30_000)
        status = page.locator(".jp-OutputArea-output .widget-html-content", has_text="msg/s")
        await expect(status.first).to_contain_text("connected", timeout=30_000)
        await _no_error_outputs(page)
        await page.locator(ladder).scroll_into_view_if_needed()
    finally:
        await _screenshot(page, "quickstart.png")
        await page.close()
        _end_sessions(lab)
    assert not problems, problems


async def test_candles_chart_renders_with_bqplot_and_grows(lab: Lab, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        await _open_and_run(page, lab, CANDLES)
        figure = page.locator(".jp-OutputArea-output .bqplot").first
        await expect(figure).to_be_visible(timeout=60_000)
        await figure.scroll_into_view_if_needed()
        sticks = figure.locator(".stick")
        await expect(sticks.first).to_be_attached(timeout=30_000)
        first = await sticks.count()
        # the simulator runs 30x faster in this notebook: a new one-minute candle every two seconds
        deadline = time.monotonic() + 20
        while (now := await sticks.count()) <= first and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert now > first, f"the chart stayed at {first} candles for 20 s"
        header = page.locator(".jp-OutputArea-output .widget-html-content", has_text="BTCUSDT 1m").first
        await expect(header).to_contain_text("SIMULATED")
        await _no_error_outputs(page)
        await header.evaluate("el => el.scrollIntoView({block: 'start'})")  # the whole chart in the screenshot
    finally:
        await _screenshot(page, "candles.png")
        await page.close()
        _end_sessions(lab)
    assert not problems, problems
