# Two entry points: `make run` and `make test`. Both build .venv/ from nothing; `make test`
# also installs every tool its tests run (apt packages, checkov), so a fresh machine passes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOOLS := .ftw/tools

.PHONY: run test lint audit install tools system-tools clean

# uv installs uv.lock (every version pinned, every file hashed) into .venv: the service, the
# `tools` extra (locust, matplotlib) and the `dev` extra. The image installs the same lock
# without the extras (deploy/Dockerfile). uv itself is pinned here.
UV_VERSION := 0.13.9
UV := $(TOOLS)/uv/bin/uv

$(UV):
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install --quiet 'uv==$(UV_VERSION)'

$(STAMP): pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --all-extras --python $(PYTHON) --quiet
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/ftw serve --demo

lint: $(STAMP) audit
	$(BIN)/ruff check src tests migrations benchmarks
	$(BIN)/ruff format --check src tests migrations benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/bandit --quiet --configfile pyproject.toml --recursive src

# pip-audit checks the locked versions against PyPI's advisory data (.ci/audit.py: a package it
# cannot look up is reported as not audited; a closed network does not fail the run).
audit: $(STAMP)
	@$(UV) export --locked --all-extras --no-emit-project --format requirements-txt --quiet \
		--output-file .ftw/requirements.txt
	@$(BIN)/python .ci/audit.py

test: lint tools
	$(BIN)/pytest -n 2 --junitxml=.ftw/junit.xml

# Everything the tests run besides Python: the apt packages below, and checkov.
tools: system-tools $(TOOLS)/checkov/bin/checkov

# promtool and prometheus (alert rules, the scrape test), docker-compose (parses compose.yaml
# without an engine), haproxy and pgbouncer (check their configs), shellcheck (the scripts),
# chromium (the browser tests drive it through Playwright).
# Debian's packages; RUNLEVEL=1 keeps their services from starting.
SYSTEM_TOOLS := promtool prometheus docker-compose haproxy pgbouncer shellcheck chromium
APT_PACKAGES := prometheus docker-compose haproxy pgbouncer shellcheck chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

system-tools:
	@missing=""; for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (apt: $(APT_PACKAGES))"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 \
			apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	fi

# checkov (the security scan of deploy/k8s) in a venv of its own: its pinned dependencies
# would fight the app's.
$(TOOLS)/checkov/bin/checkov:
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/pip install --quiet 'checkov==3.3.30'

clean:
	rm -rf $(VENV) .ftw
