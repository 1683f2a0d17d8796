# Every target creates .venv and installs the project into it first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WA := $(BIN)/wallet-analytics
PORT ?= 8000
SCALE ?= 1m
export WALLET_ANALYTICS_DEMO ?=

.PHONY: demo test bench soak lint clean vendor screenshots

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	WALLET_ANALYTICS_DEMO=1 $(WA) migrate
	WALLET_ANALYTICS_DEMO=1 $(WA) demo-data --if-empty --users 500 --days 120
	WALLET_ANALYTICS_DEMO=1 $(WA) etl --wait
	WALLET_ANALYTICS_DEMO=1 PORT=$(PORT) $(WA) serve

test: $(BIN)/.installed
	scripts/ensure-test-tools.sh
	$(BIN)/pytest $(PYTEST_ARGS)

# Chart.js for the admin dashboard into web/static/vendor, and axe-core for its accessibility
# test into tests/vendor, from the npm registry (both committed, pinned by SHA256SUMS).
vendor:
	scripts/vendor-chartjs.sh
	scripts/vendor-axe.sh

# docs/screenshots/: the dashboard on demo data (SQLite) in Debian's headless chromium.
screenshots: $(BIN)/.installed
	$(BIN)/python scripts/screenshots.py docs/screenshots

# MariaDB and Redis as for `make test`; see docs/benchmark.md. SCALE: tiny, 1m, 10m, users20k, users100k, users1m;
# growth: the growth curves of issue 18 (tests/bench/growth.py; BENCH_ARGS="--axis range" for one).
bench: $(BIN)/.installed
	scripts/ensure-test-tools.sh bench
ifeq ($(SCALE),growth)
	$(BIN)/python -m tests.bench.growth $(BENCH_ARGS)
else
	$(BIN)/python -m tests.bench.run --scale $(SCALE) $(BENCH_ARGS)
endif

# Slow clients against nginx + gunicorn and gunicorn alone, on loopback, about five minutes;
# MariaDB and Redis as for `make test`. Figures: docs/benchmarks/<date>-soak.md.
soak: $(BIN)/.installed
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx)
	$(BIN)/python -m tests.soak.run $(SOAK_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check core web workers migrations tests scripts

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
