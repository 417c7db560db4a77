# The two Quickstart commands: `make serve` and `make test`. Each creates .venv on first use
# from its own hash-pinned lock: serving needs only requirements/runtime.lock, the test suite
# and tools need requirements/dev.lock (runtime plus test dependencies). So a fresh machine
# needs only Python 3.11+ and make, and `make serve` downloads no test tooling.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# --require-hashes: a substituted or tampered package fails the install. The project itself is
# installed editable without build isolation, so its build backend (setuptools) comes from the
# hash-pinned lock too rather than from an unpinned download.
INSTALL := $(BIN)/pip install --quiet --disable-pip-version-check
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: serve test lint bench lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): requirements/runtime.lock pyproject.toml | $(BIN)/python
	$(INSTALL) --require-hashes -r requirements/runtime.lock
	$(INSTALL) --no-deps --no-build-isolation -e .
	touch $(RUNTIME)

$(DEV): requirements/dev.lock pyproject.toml | $(BIN)/python
	$(INSTALL) --require-hashes -r requirements/dev.lock
	$(INSTALL) --no-deps --no-build-isolation -e .
	touch $(DEV) $(RUNTIME)

serve: $(RUNTIME)
	$(BIN)/routeplex serve

test: $(DEV)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(DEV)
	$(BIN)/ruff check src tests bench && $(BIN)/ruff format --check src tests bench && $(BIN)/mypy

# The benchmark harness (bench/README.md): RoutePlex beside LiteLLM, Portkey and the upstream.
bench: $(DEV)
	$(BIN)/python -m bench.run

# Regenerate both locks from pyproject.toml (keeping today's pins; UPGRADE=--upgrade moves them).
UV_VERSION := 0.13.9
lock: $(DEV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	for lock in runtime dev; do \
	  extra=$$( [ $$lock = dev ] && echo "--extra dev" ); \
	  $(BIN)/uv pip compile pyproject.toml requirements/build.in \
	    $$extra --generate-hashes --python-version 3.11 --annotation-style line $(UPGRADE) \
	    --custom-compile-command "make lock" -o requirements/$$lock.lock --quiet || exit 1; \
	done
