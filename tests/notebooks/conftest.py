"""Fixtures for the notebook tests: a Jupyter kernelspec that runs this interpreter (the venv's Python)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
KERNEL_NAME = "rxbybit-test"


@pytest.fixture(scope="session")
def jupyter_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A Jupyter data dir holding one kernelspec whose argv is ``sys.executable`` (never a stray python)."""
    data = tmp_path_factory.mktemp("jupyter-data")
    spec = data / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "rxbybit test kernel",
        "language": "python",
    }))
    yield data
