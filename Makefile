# riskgate: the newcomer's commands are `make demo` and `make test`. Each works on a fresh
# clone: it creates the virtualenv and installs (once), starts the local infrastructure, runs.
SHELL := /bin/bash
VENV ?= .venv
EXTRAS ?= dev,api
# Newer than pyproject.toml once these extras are installed: a second run skips pip.
STAMP := $(VENV)/.installed-$(EXTRAS)
VPY := $(VENV)/bin/python
# The targets below that do not depend on $(STAMP) use the venv if there is one.
PY := $(if $(wildcard $(VENV)/bin/python),$(VENV)/bin/python,python3)
PYTEST_ARGS ?=

.PHONY: venv install infra infra-up infra-down infra-status lint schemas test test-unit demo chaos bench

$(STAMP): pyproject.toml
	test -x $(VPY) || python3 -m venv $(VENV) || { rm -rf $(VENV); \
		echo "python3 -m venv failed; on Debian/Ubuntu install python3-venv" >&2; exit 1; }
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[$(EXTRAS)]'
	touch $@

# Create and install only if needed.
venv: $(STAMP)

# Install again even if the stamp says it is done.
install:
	rm -f $(STAMP)
	$(MAKE) --no-print-directory venv

# The local broker and database, unless RISKGATE_BOOTSTRAP_SERVERS points at running ones
# (the same rule as the tests' `infra` fixture). Idempotent: quick when they are up.
infra: $(STAMP)
	@if [[ -z "$${RISKGATE_BOOTSTRAP_SERVERS:-}" ]]; then PYTHON=$(VPY) bash deploy/local/infra.sh up; \
	else echo "infra: using RISKGATE_BOOTSTRAP_SERVERS=$$RISKGATE_BOOTSTRAP_SERVERS"; fi

infra-up:
	bash deploy/local/infra.sh up

infra-down:
	bash deploy/local/infra.sh down

infra-status:
	bash deploy/local/infra.sh status

lint: $(STAMP)
	$(VENV)/bin/ruff check services tests bench
	$(VENV)/bin/lint-imports

schemas:
	$(PY) -m riskgate.contracts.export

# Lint, then every layer against the real broker and database. Any pytest failure fails,
# including its exit status 5 ("no tests collected"). Then the integration, e2e, security and
# reduced chaos layers again with the experimental librdkafka client
# (RISKGATE_KAFKA_CLIENT=confluent, docs/kafka-clients.md).
test: lint infra
	$(VPY) -m pytest $(PYTEST_ARGS)
	RISKGATE_KAFKA_CLIENT=confluent $(VPY) -m pytest \
		-m "(integration or e2e or security or chaos) and not client_mechanism" $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(VPY) -m pytest -m "unit or service" $(PYTEST_ARGS)

demo: $(STAMP)
	VENV=$(VENV) bash deploy/local/demo.sh

chaos:
	$(PY) -m tests.chaos.harness --decisions 20000 --portfolios 24 --kills 10

bench:
	$(PY) -m bench.run
