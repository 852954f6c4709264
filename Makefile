# `make demo` and `make test` each create .venv and install on first use (or when
# pyproject.toml changes), so both work on a fresh machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/proxyvault demo --home build/demo

test: lint
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest -m unit

lint: $(STAMP)
	$(BIN)/ruff check --output-format concise .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/normalize.py
	$(BIN)/python benchmarks/validate.py
	$(BIN)/python benchmarks/archive.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
