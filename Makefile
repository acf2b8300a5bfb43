# Todoke — run `make help` for the list of targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
DEMO_ARGS ?=
# pytest exits 5 when it collected no test: a suite that runs nothing is a failure here.
PYTEST = bash -c '$(BIN)/pytest -n 2 "$$@"; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc' pytest

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Todoke needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

.PHONY: install
install: $(STAMP) ## Create .venv and install Todoke with its development tools

.PHONY: demo
demo: $(STAMP) ## Run the whole federation locally on SQLite (sandbox, hub, node) and print the results
	$(BIN)/todoke demo $(DEMO_ARGS)

.PHONY: test
test: $(STAMP) ## Run the full test suite: SQLite pass, then PostgreSQL pass (see tests/conftest.py)
	@TODOKE_TEST_SPLIT=1 TODOKE_TEST_DB=sqlite $(PYTEST) $(PYTEST_ARGS)
	@TODOKE_TEST_SPLIT=1 TODOKE_TEST_DB=postgresql $(PYTEST) $(PYTEST_ARGS)

.PHONY: test-sqlite
test-sqlite: $(STAMP) ## Run every test on SQLite (end-to-end tests included)
	@TODOKE_TEST_DB=sqlite $(PYTEST) $(PYTEST_ARGS)

.PHONY: test-postgres
test-postgres: $(STAMP) ## Run every test on PostgreSQL (TODOKE_TEST_PG_URL, default postgresql://postgres@127.0.0.1:5432/test)
	@TODOKE_TEST_DB=postgresql $(PYTEST) $(PYTEST_ARGS)

.PHONY: lint
lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

.PHONY: format
format: $(STAMP) ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: types
types: $(STAMP) ## mypy (strict on contracts/, hub/, municipal_node/)
	$(BIN)/mypy contracts hub municipal_node line_sandbox todoke

.PHONY: check
check: lint types schema-check ## Lint, types and generated-file checks

.PHONY: schema
schema: $(STAMP) ## Regenerate hub/schema.graphql and contracts/schemas/*.json
	$(BIN)/python -m hub.schema_export
	$(BIN)/python -m contracts.schemas

.PHONY: schema-check
schema-check: $(STAMP) ## Fail when a generated schema file is stale
	$(BIN)/python -m hub.schema_export --check
	$(BIN)/python -m contracts.schemas --check

.PHONY: clean
clean: ## Remove the virtualenv, caches and demo data
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .todoke-demo
