# The set-up commands of the README: `make demo` and `make test`, each from a fresh checkout; `make test-fast`,
# the tests not marked slow (setup.cfg), for daily work.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv demo test test-fast

venv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

demo: venv
	$(BIN)/python -m pip install -q -e ".[samples,serving]"
	PYTHON=$(abspath $(BIN)/python) bash tools/demo.sh

test: venv
	$(BIN)/python -m pip install -q -e ".[test]"
	$(BIN)/python -m pytest -q

test-fast: venv
	$(BIN)/python -m pip install -q -e ".[test]"
	$(BIN)/python -m pytest -q -m "not slow"
