# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck install bench clean fuzz faults

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,fast]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/infopole run --demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

test: $(STAMP) lint typecheck
	$(BIN)/pytest

# One table of the load figures (medians of repeated runs; docs/performance.md has the full runs).
bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The fuzz suites with 20x the examples `make test` runs (INFOPOLE_FUZZ_SCALE overrides).
fuzz: $(STAMP)
	INFOPOLE_FUZZ_SCALE=$${INFOPOLE_FUZZ_SCALE:-20} $(BIN)/pytest -p no:cacheprovider tests/fuzz

# The fault scenarios in full: more kills, longer outages, bigger streams (`make test` runs them reduced).
faults: $(STAMP)
	INFOPOLE_FAULTS=full $(BIN)/pytest -p no:cacheprovider tests/faults
