# Two entry points for a fresh machine with python3 (3.11+) and make:
#   make demo   create .venv, install rxbybit, run the live demo against the simulator
#   make test   create .venv, install rxbybit with its test tools, run tests + ruff + mypy
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo lab test lint bench clean dataset replicas

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,conformance]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rxbybit demo $(ARGS)

lab: $(STAMP)
	RXBYBIT_NETWORK=$${RXBYBIT_NETWORK:-sim} $(BIN)/jupyter lab notebooks/01_quickstart.ipynb

# Browser tests drive Debian's Chromium with Playwright (no browser downloads).
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@echo "make test: installing Debian's chromium for the browser tests (apt-get; root or sudo)" >&2
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	elif command -v sudo >/dev/null 2>&1; then \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "warning: cannot install chromium; the browser tests will fail" >&2; fi

# The gateway bus tests start Debian's redis-server on 127.0.0.1 (installed the same way).
REDIS_SERVER ?= /usr/bin/redis-server
$(REDIS_SERVER):
	@echo "make test: installing Debian's redis-server for the gateway bus tests (apt-get; root or sudo)" >&2
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	elif command -v sudo >/dev/null 2>&1; then \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	else echo "warning: cannot install redis-server; the gateway bus tests will fail" >&2; fi

test: $(STAMP) $(CHROMIUM) $(REDIS_SERVER)
	$(BIN)/python -m pytest
	$(BIN)/ruff check rxbybit tests bench
	$(BIN)/mypy

# Record 20 s of what `make demo` shows (its book, trades and ticker, plus candles) from the
# simulator as a Parquet dataset, then query it through DuckDB (docs/dataset.md).
dataset: $(STAMP)
	$(BIN)/rxbybit record orderbook.50.BTCUSDT publicTrade.BTCUSDT tickers.BTCUSDT kline.1.BTCUSDT \
		--format parquet -o recording --duration 20
	$(BIN)/python -m rxbybit.recordings recording

# Three gateway replicas sharing one upstream through a local redis-server (docs/scaling.md).
replicas: $(STAMP) $(REDIS_SERVER)
	$(BIN)/python -m rxbybit.gateway.bus_demo $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check rxbybit tests bench
	$(BIN)/mypy

# Every benchmark, one after the other, then one table of ratios (BENCH_ARGS=--quick: smaller runs).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]' || true
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
