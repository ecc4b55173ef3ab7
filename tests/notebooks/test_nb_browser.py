"""Every notebook in a real browser: JupyterLab served on loopback, driven by Playwright in Debian's Chromium.

The notebooks are copied into a temporary root and served with JupyterLab (token, ``--no-browser``,
127.0.0.1 on a free port, ``RXBYBIT_NETWORK=sim``). Each test opens one notebook, uses **Run > Run All
Cells** as a user would, waits until every cell has run, checks what that notebook must show (the ladder,
the live table, the line chart, the candles), then proves the notebook is still live: a snapshot of every
widget's text and every chart line taken 10 s after Run All finished changes again within a bounded wait
(Run All must not close the client). A screenshot of each is kept in ``artifacts/``. No browser is
downloaded: the test fails (never skips) without /usr/bin/chromium.
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
NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
LIVE_AFTER_S = 10.0
"""How long after Run All a notebook must still be changing (the issue's bar)."""


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
    for name in NAMES:
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


async def _run_all(page: Page, tries: int = 3) -> None:
    """Run > Run All Cells, as a user would, once the kernel says it is idle.

    A click made while the kernel is still connecting can run nothing (every prompt stays ``[ ]:``);
    then the menu is used again, at most ``tries`` times, each given 20 s to start a cell."""
    await expect(page.get_by_text(re.compile(r"\| Idle$"))).to_be_visible(timeout=60_000)
    prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt")
    seen: list[str] = []
    for _ in range(tries):
        await page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputPrompt").click()
        await page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        item = page.locator(".lm-Menu-item", has_text="Run All Cells").filter(
            has=page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True))
        seen.append(str(await item.get_attribute("class")))
        await item.click()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if any(t.strip() != "[ ]:" for t in await prompts.all_inner_texts()):
                return
            await asyncio.sleep(0.25)
    raise AssertionError(f"Run All Cells started no cell in {tries} tries (menu item classes: {seen})")


async def _all_cells_ran(page: Page, timeout: float) -> None:
    """Wait (bounded) until every code cell shows an execution count and none is still running."""
    prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt")
    deadline = time.monotonic() + timeout
    texts: list[str] = []
    while time.monotonic() < deadline:
        texts = [t.strip() for t in await prompts.all_inner_texts()]
        if texts and all(re.fullmatch(r"\[\d+\]:", t) for t in texts):
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"the cells did not all run within {timeout:.0f} s: prompts {texts}")


_SNAPSHOT = """() => {
  const out = [];
  for (const el of document.querySelectorAll('.jp-OutputArea-output .widget-html-content')) out.push(el.innerText);
  const marks = '.jp-OutputArea-output .bqplot path.line, .jp-OutputArea-output .bqplot .stick';
  for (const el of document.querySelectorAll(marks))
    out.push(el.getAttribute('d') || el.getAttribute('transform') || '');
  return out.join('\\n');
}"""


async def _snapshot(page: Page) -> str:
    """Every widget's text and every chart line's geometry, as one string."""
    return str(await page.evaluate(_SNAPSHOT))


async def _still_changing(page: Page, timeout: float) -> tuple[str, str]:
    """The snapshot now and the first different one within ``timeout`` (or the last one read)."""
    first = await _snapshot(page)
    deadline = time.monotonic() + timeout
    now = first
    while time.monotonic() < deadline and now == first:
        await asyncio.sleep(0.5)
        now = await _snapshot(page)
    return first, now


async def _open(page: Page, lab: Lab, name: str) -> None:
    """Open ``name`` in a fresh JupyterLab workspace and wait for its kernel."""
    workspace = name.removesuffix(".ipynb").replace("_", "-")  # a fresh workspace: no tabs of other tests
    await page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{name}?reset&token={lab.token}", timeout=60_000)
    cells = page.locator(".jp-Notebook .jp-Cell")
    await expect(cells.first).to_be_visible(timeout=60_000)
    await expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_be_attached(timeout=60_000)
    cells_in_file = len(json.loads((NOTEBOOKS / name).read_text())["cells"])
    await expect(cells).to_have_count(cells_in_file, timeout=30_000)


async def _no_error_outputs(page: Page) -> None:
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], "
                          ".jp-OutputArea-output .jp-RenderedText[data-mime-type='application/vnd.jupyter.error']")
    assert await errors.count() == 0, await errors.all_inner_texts()


async def _screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    await page.screenshot(path=str(shot), full_page=False)
    print(f"screenshot: {shot}")


async def _checks(page: Page, name: str) -> None:
    """What each notebook must show once Run All has finished."""
    out = page.locator(".jp-OutputArea-output")
    await expect(out.filter(has_text="SIMULATED").first).to_be_visible(timeout=30_000)
    if name.startswith("01"):
        ladder = out.locator(".widget-html-content:has(tr.rxbybit-spread)")
        await expect(ladder).to_contain_text("spread", timeout=30_000)
        table = out.locator(".rxbybit-table")
        await expect(table.locator("tr.rxbybit-row").first).to_be_attached(timeout=30_000)
        await expect(out.locator(".widget-html-content", has_text="msg/s").first).to_contain_text("connected")
    elif name.startswith(("02", "03")):
        line = out.locator(".bqplot path.line").first
        await expect(line).to_have_attribute("d", re.compile(r"M.*L"), timeout=30_000)  # a drawn polyline
        axes = out.locator(".bqplot .axis")
        assert await axes.count() >= 3, "a line chart has a time axis and two y axes"
        if name.startswith("03"):
            sticks = out.locator(".bqplot .stick")
            await expect(sticks.first).to_be_attached(timeout=30_000)
            first = await sticks.count()
            # the simulator runs 30x faster in this notebook: a new one-minute candle every two seconds
            deadline = time.monotonic() + 20
            while (now := await sticks.count()) <= first and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            assert now > first, f"the candle chart stayed at {first} candles for 20 s"
    elif name.startswith("04"):
        await expect(out.locator(".rxbybit-table tr.rxbybit-row").first).to_be_attached(timeout=30_000)
        typed = re.compile(r"filled quantity: 0\.0\d+ \| dtypes: \{'execQty': 'float64', 'execPrice': 'float64'\}")
        await expect(out.filter(has_text="filled quantity:").first).to_contain_text(typed)
    elif name.startswith("05"):
        await expect(out.locator(".widget-html-content", has_text="msg/s").first).to_contain_text("connected")


@pytest.mark.parametrize("name", NAMES)
async def test_notebook_stays_live_after_run_all(lab: Lab, browser: Browser, name: str) -> None:
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        await _open(page, lab, name)
        await _run_all(page)
        await _all_cells_ran(page, timeout=120)
        await _checks(page, name)
        await _no_error_outputs(page)
        ran = time.monotonic()
        await page.wait_for_timeout(LIVE_AFTER_S * 1000)  # the bar itself: still live 10 s after Run All
        first, later = await _still_changing(page, timeout=15)
        assert time.monotonic() - ran >= LIVE_AFTER_S
        assert later != first, f"{name} did not change any more {LIVE_AFTER_S:.0f} s after Run All"
        focus = {"01": ".widget-html-content:has(tr.rxbybit-spread)", "02": ".bqplot:has(path.line)",
                 "03": ".bqplot:has(path.line)", "04": ".rxbybit-table", "05": ".widget-html-content"}[name[:2]]
        target = page.locator(f".jp-OutputArea-output {focus}").last
        await target.evaluate("el => el.scrollIntoView({block: 'center'})")  # the screenshot shows the live view
    finally:
        await _screenshot(page, name.removesuffix(".ipynb") + ".png")
        await page.close()
        _end_sessions(lab)
    assert not problems, problems
