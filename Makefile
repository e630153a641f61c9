# One entry point for people and CI. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install migrate run test check lint imports format types dockerfile bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Development unless VAULT_ENV is set in the environment or .env (those always win).
DEV_ENV = if [ -z "$$VAULT_ENV" ] && ! grep -qs '^VAULT_ENV=' .env; then export VAULT_ENV=development; fi

migrate: install
	@mkdir -p var
	$(BIN)/alembic upgrade head

run: migrate
	@echo "Vault on http://$(HOST):$(PORT)  -  docs: http://$(HOST):$(PORT)/docs"
	@echo "Admin token: VAULT_BOOTSTRAP_TOKEN if you set one; otherwise run 'cat var/dev-admin-token' once started"
	@$(DEV_ENV); exec $(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT) --no-access-log

test: install
	$(BIN)/pytest

check: lint imports types dockerfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The package boundaries in pyproject.toml: crypto alone, state only at the top, no cycles,
# packages in layers and, inside each, routers > services > repositories > models.
imports: install
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

types: install
	$(BIN)/mypy

dockerfile: install
	$(BIN)/hadolint Dockerfile

# The benchmark needs wrk (Debian's package) and PostgreSQL; it prints and saves its report.
bench: install
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m tests.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
