"""Every notebook in ``notebooks/`` executed headless (nbclient, a real ipykernel on this interpreter) against
the embedded simulator, then checked for what it should have shown: prices, fills, gateway replies.

The notebooks run concurrently (each mostly waits on live data), once per module; every test reads the
outputs of one of them.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from rxbybit.sim import DEMO_API_SECRET

from .conftest import KERNEL_NAME, NOTEBOOKS

NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
EXPECTED = ("01_quickstart.ipynb", "02_order_book.ipynb", "03_candles_and_indicators.ipynb",
            "04_paper_trading.ipynb", "05_gateway.ipynb")
CELL_TIMEOUT = 60  # seconds per cell; every wait inside the notebooks is bounded well below this
NUMBER = r"([0-9][0-9,]*\.?[0-9]*)"


@dataclass
class Run:
    """One executed notebook: the notebook with its outputs, the failure if any, and the wall time."""

    nb: Any
    error: BaseException | None
    seconds: float

    def code_cells(self) -> list[Any]:
        return [c for c in self.nb.cells if c.cell_type == "code"]

    def text(self) -> str:
        """Everything the notebook printed or displayed, as text (stdout, text/plain, text/html)."""
        parts: list[str] = []
        for cell in self.code_cells():
            for out in cell.get("outputs", []):
                if out.output_type == "stream":
                    parts.append(out.text)
                elif out.output_type in ("execute_result", "display_data"):
                    parts.extend(str(out.data.get(k, "")) for k in ("text/plain", "text/html"))
        return "\n".join(parts)

    def stdout(self) -> str:
        return "".join(o.text for c in self.code_cells() for o in c.get("outputs", [])
                       if o.output_type == "stream" and o.name == "stdout")

    def widget_views(self) -> int:
        return sum("application/vnd.jupyter.widget-view+json" in o.get("data", {})
                   for c in self.code_cells() for o in c.get("outputs", []))


def _number(s: str) -> float:
    return float(s.replace(",", ""))


async def _execute(path: Path, workdir: Path) -> Run:
    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, startup_timeout=60, kernel_name=KERNEL_NAME,
                            resources={"metadata": {"path": str(workdir)}})
    start = time.monotonic()
    try:
        await client.async_execute()
        error: BaseException | None = None
    except Exception as exc:  # kept and reported by the test of that notebook
        error = exc
    return Run(nb, error, time.monotonic() - start)


async def _execute_all(workdir: Path) -> dict[str, Run]:
    runs = await asyncio.gather(*(_execute(NOTEBOOKS / name, workdir) for name in NAMES))
    return dict(zip(NAMES, runs, strict=True))


@pytest.fixture(scope="module")
def runs(jupyter_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    workdir = tmp_path_factory.mktemp("nb-run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(jupyter_path))
        mp.delenv("RXBYBIT_NETWORK", raising=False)  # the notebooks' own default must be the simulator
        # nbclient gets its own event loop in a worker thread, away from pytest-asyncio's loops
        with ThreadPoolExecutor(1) as pool:
            yield pool.submit(asyncio.run, _execute_all(workdir)).result(timeout=110)


def _ok(runs: dict[str, Run], name: str) -> Run:
    run = runs[name]
    if run.error is not None:
        raise AssertionError(f"{name} failed to execute: {run.error}") from run.error
    return run


# ------------------------------------------------------------------------------------------- stored form


def test_the_expected_notebooks_exist() -> None:
    assert set(EXPECTED) <= set(NAMES), f"missing notebooks: {sorted(set(EXPECTED) - set(NAMES))}"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_clean_and_defaults_to_the_simulator(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)  # type: ignore[no-untyped-call]
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "starts with a titled markdown cell"
    assert "SIMULATED" in first.source and "RXBYBIT_NETWORK" in first.source, \
        "the first cell says the data is simulated by default and how to switch"
    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code:
        assert not cell.outputs and cell.execution_count is None, f"outputs are not cleared in cell {cell.id}"
    source = "\n".join(c.source for c in code)
    assert 'os.environ.get("RXBYBIT_NETWORK", "sim")' in source
    assert "close()" in code[-1].source and code[-1].source.startswith("STOP = False"), \
        "the last cell is the cleanup, off unless STOP = True: Run All leaves every view live"
    assert sum("close()" in c.source for c in code) == 1, "nothing but the guarded cleanup closes the client"
    assert "asyncio.run(" not in source, "the kernel's loop is already running: no asyncio.run in notebooks"


# ------------------------------------------------------------------------------------------- executed


@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes_without_error(runs: dict[str, Run], name: str) -> None:
    run = _ok(runs, name)
    errors = [o for c in run.code_cells() for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    stderr = "".join(o.text for c in run.code_cells() for o in c.get("outputs", [])
                     if o.output_type == "stream" and o.name == "stderr")
    assert "Traceback" not in stderr, stderr
    assert all(c.execution_count for c in run.code_cells()), "every code cell ran"


def test_quickstart_shows_a_best_bid_below_the_best_ask_and_live_trades(runs: dict[str, Run]) -> None:
    run = _ok(runs, "01_quickstart.ipynb")
    out = run.stdout()
    m = re.search(rf"BTCUSDT best bid {NUMBER} x .*best ask {NUMBER} x .*spread {NUMBER}", out)
    assert m, out
    bid, ask, spread = (_number(g) for g in m.groups())
    assert 0 < bid < ask and spread == pytest.approx(ask - bid, abs=1e-6)
    kept = re.search(r"(\d+) trades kept, newest at 20\d\d-", out)
    assert kept and int(kept.group(1)) > 0, out
    assert re.search(rf"BTCUSDT last {NUMBER}\s+mark {NUMBER}", out), out
    assert run.widget_views() >= 3, "status bar, ladder and tape are live widgets"
    assert "SIMULATED" in run.text(), "simulated data is labelled"


def test_order_book_notebook_shows_a_consistent_book(runs: dict[str, Run]) -> None:
    run = _ok(runs, "02_order_book.ipynb")
    out = run.stdout()
    u = [int(x) for x in re.findall(r"BookView\(BTCUSDT u=(\d+)", out)]
    assert len(u) == 5 and u == sorted(u) and len(set(u)) == 5, out
    m = re.search(r"best bid \(([\d.]+), [\d.]+\) best ask \(([\d.]+), [\d.]+\) mid ([\d.]+)", out)
    assert m, out
    bid, ask, mid = (float(g) for g in m.groups())
    assert bid < mid < ask
    books = re.search(r"'books seen': (\d+)", run.text())
    assert books and int(books.group(1)) > 0
    assert run.text().count("SIMULATED") >= 4, "book frame and derived frames are labelled"


def test_candles_notebook_draws_candles_and_indicators(runs: dict[str, Run]) -> None:
    run = _ok(runs, "03_candles_and_indicators.ipynb")
    out = run.stdout()
    chart = re.search(rf"chart: (\d+) candles, last close {NUMBER}", out)
    assert chart and int(chart.group(1)) >= 1, out
    m = re.search(rf"last close {NUMBER}\s+VWAP 1min {NUMBER}\s+mean of 50 trades {NUMBER}", out)
    assert m, out
    close, vwap, mean = (_number(g) for g in m.groups())
    assert vwap == pytest.approx(close, rel=0.01) and mean == pytest.approx(close, rel=0.01)
    text = run.text()
    assert "sma3" in text and "ema3" in text and "return_bps" in text


def test_paper_trading_notebook_places_amends_cancels_and_fills(runs: dict[str, Run]) -> None:
    run = _ok(runs, "04_paper_trading.ipynb")
    out = run.stdout()
    amended = re.search(r"open orders after amend:\n(.*?)\n(.*?)\n(.*)", out)
    assert amended and "Buy" in amended.group(3) and "New" in amended.group(3), out
    assert "open orders after cancel: 0" in out
    filled = re.search(rf"order nb-market-[0-9a-f]{{8}} Filled: 0\.01\d* BTCUSDT at avg {NUMBER}", out)
    assert filled and _number(filled.group(1)) > 0, out
    assert "open positions: 0" in out, "the reduce-only sell closed the position"
    text = run.text()
    assert re.search(r"nb-market-[0-9a-f]{8}", text) and "execPrice" in text, "the fill is shown"
    assert "USDT" in text and "walletBalance" in text, "balances are shown"
    assert DEMO_API_SECRET not in text, "secrets never appear in outputs"


def test_gateway_notebook_serves_symbols_tickers_and_clear_errors(runs: dict[str, Run]) -> None:
    run = _ok(runs, "05_gateway.ipynb")
    out = run.stdout()
    assert re.search(r"<Gateway network=sim SIMULATED ws://127\.0\.0\.1:\d+/ws", out), out
    assert "'subscribed': '/symbols'" in out and "'unsubscribed': '/symbols'" in out
    listed = re.search(r"symbols: (.*)", out)
    assert listed and "linear:BTCUSDT" in listed.group(1).split(", "), out
    assert "'subscribed': ['/external/linear/tickers.BTCUSDT']" in out
    frames = re.findall(r"/external/linear/tickers\.BTCUSDT: (snapshot|delta)\s+ts=(\d+)", out)
    assert len(frames) == 3 and frames[0][0] == "snapshot", out
    stamps = [int(ts) for _, ts in frames]
    assert stamps == sorted(stamps), "Bybit's frames arrive in order"
    assert "'code': 4004" in out and "unknown path '/nowhere'" in out
    assert re.search(r"'id': 'private', 'code': 4010, 'message': '/user/profile needs authorization", out), out


@pytest.mark.parametrize("name", NAMES)
def test_no_numpy_scalar_reprs_in_what_a_notebook_prints(runs: dict[str, Run], name: str) -> None:
    run = _ok(runs, name)
    assert "np.float64(" not in run.stdout() and "np.int64(" not in run.stdout()
    assert not re.search(r"\d\.\d*0000000\d\b", run.stdout()), "float noise such as 67248.95000000001"
