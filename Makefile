# The two set-up commands of the README: `make demo` and `make test`, each from a fresh checkout.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv demo test

venv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

demo: venv
	$(BIN)/python -m pip install -q -e ".[samples,serving]"
	PYTHON=$(abspath $(BIN)/python) bash tools/demo.sh

test: venv
	$(BIN)/python -m pip install -q -e ".[test]"
	$(BIN)/python -m pytest -q
