# riskgate: the newcomer's commands are `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(if $(wildcard $(VENV)/bin/python),$(VENV)/bin/python,python3)
BIN := $(if $(wildcard $(VENV)/bin/python),$(VENV)/bin/,)
PYTEST_ARGS ?=

.PHONY: install infra-up infra-down infra-status lint schemas test test-unit test-integration demo chaos bench

install:
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev,api]'

infra-up:
	bash deploy/local/infra.sh up

infra-down:
	bash deploy/local/infra.sh down

infra-status:
	bash deploy/local/infra.sh status

lint:
	$(BIN)ruff check services tests bench
	$(BIN)lint-imports

schemas:
	$(PY) -m riskgate.contracts.export

# Every layer; the integration, e2e and chaos layers need the broker and database
# (`make infra-up`, or RISKGATE_* settings pointing at running ones).
test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit:
	$(PY) -m pytest -m "unit or service" $(PYTEST_ARGS)

demo:
	bash deploy/local/demo.sh

chaos:
	$(PY) -m tests.chaos.harness --decisions 20000 --portfolios 24 --kills 10

bench:
	$(PY) -m bench.run
