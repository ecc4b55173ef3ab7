# Two entry points for a fresh machine with python3 (3.11+) and make:
#   make demo   create .venv, install rxbybit, run the live demo against the simulator
#   make test   create .venv, install rxbybit with its test tools, run tests + ruff + mypy
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rxbybit demo $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/ruff check rxbybit tests bench
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check rxbybit tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]' || true
	$(BIN)/python bench/bench_protocol.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
