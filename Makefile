# Kopilka's task runner. `make demo` and `make test` prepare everything they need first.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: system_deps setup demo test test_fast test_system_pg lint lint_types db_migrate settings_doc bench bench_expiry bench_backfill bench_portals bench_growth bench_ledger clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced

# What the tests need from the system (Chromium, python3-venv), installed when missing or named
# with the command to run (scripts/system-deps.sh); `.ci/run` runs the same script.
system_deps:
	PYTHON=$(PYTHON) bash scripts/system-deps.sh

demo: setup
	$(BIN)/kopilka demo --serve

# The coverage floor only ever goes up (STYLE 22); measured 92.5 % on 2026-11-23, the margin
# absorbs the property tests' random paths.
COVERAGE_FLOOR := 90

test: system_deps setup lint lint_types
	$(BIN)/pytest --cov=kopilka --cov-report=term-missing:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)

test_fast: setup
	$(BIN)/pytest -x -q -m "not slow"

# The whole suite against a PostgreSQL server that is not the embedded one (docs/testing.md):
# the tests create and drop their own databases there, so the user must be allowed CREATE DATABASE.
KOPILKA_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
test_system_pg: setup
	KOPILKA_TEST_DATABASE_URL='$(KOPILKA_TEST_DATABASE_URL)' $(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src
	$(BIN)/lint-imports

lint_types: setup
	$(BIN)/mypy

db_migrate: setup
	$(BIN)/kopilka db upgrade

# The table of every KOPILKA_* setting in docs/deploy.md, from kopilka/config.py.
settings_doc: setup
	$(BIN)/python -m kopilka.settings_table docs/deploy.md

bench: setup
	$(BIN)/python -m bench.ledger
	$(BIN)/python -m bench.sync
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.totals
	$(BIN)/python -m bench.whatif
	$(BIN)/python -m bench.reports
	$(BIN)/python -m bench.expiry
	$(BIN)/python -m bench.backfill
	$(BIN)/python -m bench.portals
	$(BIN)/python -m bench.growth --plot docs/growth.png

bench_ledger: setup
	$(BIN)/python -m bench.ledger

bench_portals: setup
	$(BIN)/python -m bench.portals

bench_expiry: setup
	$(BIN)/python -m bench.expiry

bench_backfill: setup
	$(BIN)/python -m bench.backfill

# Cost as data grows (issue 21 item 4): 1 000, 100 000, 1 000 000 customers; ~10 minutes.
bench_growth: setup
	$(BIN)/python -m bench.growth --plans --plot docs/growth.png

clean:
	rm -rf $(VENV) .tools var .pytest_cache .mypy_cache .ruff_cache .hypothesis
