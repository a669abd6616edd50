# Concurrency lab. `make demo` and `make test` set everything up themselves (venv, installs, Redis).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv demo up down test lint clean compose-up compose-down compose-test freethreaded report bench

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "need Python >= 3.11 (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | grep -v 'is ignored' || true
	$(BIN)/python -m pip install -q -e '.[dev]' 2>&1 | grep -v 'is ignored' || true
	$(BIN)/python -c 'import celery, redis, flower, typer, pytest'
	touch $(STAMP)

venv: $(STAMP)

## demo: start the local stack (unless it is up), print the compare table (cpu and io_http on every pool, in-process
## baselines; solo/gevent workers started and stopped by compare), stop what it started
demo: venv
	@if $(BIN)/producer stack status >/dev/null 2>&1; then \
		$(BIN)/producer demo; \
	else \
		$(BIN)/producer stack up --detach || exit 1; \
		$(BIN)/producer demo; rc=$$?; $(BIN)/producer stack down; exit $$rc; \
	fi

## freethreaded: CPython 3.13.5t + a venv for the threads_nogil pool (compare picks it up when present)
freethreaded:
	bash scripts/build_freethreaded.sh

## report: HTML + Markdown with PNG charts from the records in results/ (compare, sweep)
report: venv
	$(BIN)/producer report

## up: the local stack in the foreground (Ctrl-C stops it); down: stop a detached one
up: venv
	$(BIN)/producer stack up

down: venv
	$(BIN)/producer stack down

## test: lint, type-check and the whole suite against a private redis-server and real workers
test: venv lint
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check config worker producer tests benchmarks
	$(BIN)/mypy

## Docker Compose. pip inside `docker build` uses this machine's index (read from pip's config here,
## passed as a build arg, never written into a file). compose-up creates .env with generated passwords.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
HOST_PIP_INDEX = $${PIP_INDEX_URL:-$$($(PYTHON) -m pip config get global.index-url 2>/dev/null)}

.env:
	@umask 077; sed -e "s/^REDIS_PASSWORD=$$/REDIS_PASSWORD=$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(24))')/" \
		-e "s/^LAB_FLOWER_PASSWORD=$$/LAB_FLOWER_PASSWORD=$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(12))')/" \
		-e "s/^GRAFANA_ADMIN_PASSWORD=$$/GRAFANA_ADMIN_PASSWORD=$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(12))')/" \
		.env.example > .env
	@echo "wrote .env with generated passwords (Flower: user admin, LAB_FLOWER_PASSWORD in .env)"

compose-up: .env
	PIP_INDEX_URL="$(HOST_PIP_INDEX)" $(COMPOSE) up -d --build

compose-down:
	$(COMPOSE) down

## compose-test: build, start, scale and exercise the compose stack for real (needs a Docker engine)
compose-test: venv
	PIP_INDEX_URL="$(HOST_PIP_INDEX)" $(BIN)/python -m pytest -m compose -s -p no:cacheprovider tests/test_compose.py

clean:
	rm -rf $(VENV) .lab results test-artifacts .pytest_cache .mypy_cache .ruff_cache

## bench: every benchmark in benchmarks/ side by side (private Redis and workers each), ratios + JSON in benchmarks/results/
bench: venv
	$(BIN)/python -m benchmarks.run_all
