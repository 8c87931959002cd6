# Two entry points: `make run` and `make test`. Both build .venv/ from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/ftw serve --demo

lint: $(STAMP)
	$(BIN)/ruff check src tests migrations
	$(BIN)/ruff format --check src tests migrations
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n 2 --junitxml=.ftw/junit.xml

clean:
	rm -rf $(VENV) .ftw

# checkov (the security scan of deploy/, tests/deploy/test_k8s.py) in a venv of its own:
# its pinned dependencies would fight the app's.
CHECKOV := .ftw/tools/checkov/bin/checkov
.PHONY: deploy-tools
deploy-tools: $(CHECKOV)

$(CHECKOV):
	$(PYTHON) -m venv .ftw/tools/checkov
	.ftw/tools/checkov/bin/pip install --quiet 'checkov==3.3.30'
