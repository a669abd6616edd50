# Concurrency lab. `make demo` and `make test` set everything up themselves (venv, installs, Redis).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# uv installs from the hash-pinned locks in requirements/ (see `lock` below); it is pip-installed from the
# package index into its own small venv, so a fresh machine needs nothing but Python.
UV_VERSION := 0.13.9
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
LOCKS  := requirements/dev.lock requirements/worker.lock requirements/worker-gevent.lock requirements/worker-freethreaded.lock

.PHONY: venv lock lock-check demo up down test lint clean compose-up compose-down compose-test pythons freethreaded report bench

# uv looks where pip looks on this machine: pip's indexes, find-links, trusted hosts and CA bundle, read when a
# recipe runs (PIP_* variables first, else `pip config`), never written into a file. unsafe-best-match = pip's
# rule (the best version across all indexes); the locks' hashes still decide which files are acceptable.
PIP_CONFIG = cfg=$$($(PYTHON) -m pip config list 2>/dev/null); \
	pipcfg() { printf '%s\n' "$$cfg" | sed -n "s/^global\.$$1='\(.*\)'$$/\1/p" | sed 's/\\n/ /g'; }; \
	cert=$${PIP_CERT:-$$(pipcfg cert)}; [ -z "$$cert" ] || export SSL_CERT_FILE="$$cert"; \
	export UV_INDEX_URL="$${PIP_INDEX_URL:-$$(pipcfg index-url)}"
PIP_INDEXES = $(PIP_CONFIG); \
	export UV_INDEX_STRATEGY=unsafe-best-match \
		UV_EXTRA_INDEX_URL="$$(echo $${PIP_EXTRA_INDEX_URL:-$$(pipcfg extra-index-url)})" \
		UV_FIND_LINKS="$$(echo $${PIP_FIND_LINKS:-$$(pipcfg find-links)} | tr ' ' ',')" \
		UV_INSECURE_HOST="$$(echo $${PIP_TRUSTED_HOST:-$$(pipcfg trusted-host)})"

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "need Python >= 3.11 (set PYTHON=...)")'
	$(PYTHON) -m venv --without-pip $(TOOLS)
	$(PYTHON) -m pip --python $(TOOLS)/bin/python install -q --disable-pip-version-check uv==$(UV_VERSION) \
		2>&1 | grep -v 'is ignored' || true
	@test -x $(UV)

# The venv is exactly requirements/dev.lock (every extra: charts, gevent, dev tools) plus the project, editable.
$(STAMP): pyproject.toml requirements/dev.lock | $(UV)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "need Python >= 3.11 (set PYTHON=...)")'
	test -x $(BIN)/python || $(UV) venv -q --python $(PYTHON) $(VENV)
	@$(PIP_INDEXES); set -x; \
		$(UV) pip sync -q --python $(BIN)/python --require-hashes requirements/dev.lock && \
		$(UV) pip install -q --python $(BIN)/python --no-deps -e .
	$(BIN)/python -c 'import celery, redis, flower, typer, pytest'
	touch $(STAMP)

venv: $(STAMP)

## lock: re-resolve requirements/*.lock from pyproject.toml, keeping every pin that still fits
## (`make lock UPGRADE=1` moves to the newest versions). Resolved on the registry index alone (pip's
## index-url when set, else the default; no extra indexes or find-links), so every package's hash list
## covers all its wheels (the image's Python, other machines), not only the files a local mirror holds.
## worker*.lock are constrained by dev.lock: the image runs the versions the tests ran.
## worker-freethreaded.lock is the free-threaded 3.13t worker's (`make pythons`): dev.lock's versions but
## requirements/freethreaded-overrides.txt's (pydantic with cp313t wheels), resolved for 3.13.
UV_COMPILE_ARGS = -q --universal --generate-hashes --no-emit-index-url \
	--no-emit-find-links --custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)
UV_COMPILE = $(UV) pip compile --python-version 3.11 $(UV_COMPILE_ARGS)
FT_CONSTRAINTS = $(TOOLS)/dev.lock-without-pydantic
lock: | $(UV)
	@$(PIP_CONFIG); set -x; \
		$(UV_COMPILE) --extra dev pyproject.toml -o requirements/dev.lock && \
		$(UV_COMPILE) -c requirements/dev.lock pyproject.toml -o requirements/worker.lock && \
		$(UV_COMPILE) -c requirements/dev.lock --extra gevent pyproject.toml -o requirements/worker-gevent.lock && \
		mkdir -p $(TOOLS) && awk '/^[a-z]/ { skip = ($$1 ~ /^pydantic(-core)?==/) } !skip' requirements/dev.lock \
			> $(FT_CONSTRAINTS) && \
		$(UV) pip compile --python-version 3.13 $(UV_COMPILE_ARGS) -c $(FT_CONSTRAINTS) \
			--overrides requirements/freethreaded-overrides.txt pyproject.toml -o requirements/worker-freethreaded.lock

## lock-check: fail when requirements/*.lock no longer match pyproject.toml (re-locks a scratch copy, diffs)
lock-check: | $(UV)
	@rm -rf $(TOOLS)/lock-check && mkdir -p $(TOOLS)/lock-check/requirements \
		&& cp pyproject.toml $(TOOLS)/lock-check/ \
		&& cp $(LOCKS) requirements/freethreaded-overrides.txt $(TOOLS)/lock-check/requirements/
	@$(MAKE) -s -C $(TOOLS)/lock-check -f $(CURDIR)/Makefile lock UV=$(CURDIR)/$(UV) >/dev/null 2>&1 \
		|| { echo "lock-check: re-locking failed: run make lock to see why"; exit 1; }
	@diff -r -q requirements $(TOOLS)/lock-check/requirements >/dev/null \
		|| { echo "lock-check: requirements/*.lock do not match pyproject.toml: run make lock"; exit 1; }

## demo: start the local stack (unless it is up), print the compare table (cpu and io_http on every pool, in-process
## baselines; solo/gevent workers started and stopped by compare), stop what it started
demo: venv
	@if $(BIN)/producer stack status >/dev/null 2>&1; then \
		$(BIN)/producer demo; \
	else \
		$(BIN)/producer stack up --detach || exit 1; \
		$(BIN)/producer demo; rc=$$?; $(BIN)/producer stack down; exit $$rc; \
	fi

## pythons: CPython 3.13.5 and 3.13.5t from the same sha256-checked tarball, each with a venv of
## requirements/worker.lock, cached in ~/.cache/concurrency-lab (the interpreters and threads_nogil pools;
## compare picks them up when present). A re-run with everything built is a no-op.
## freethreaded: only 3.13.5t (threads_nogil).
pythons: | $(UV)
	@$(PIP_INDEXES); UV=$(CURDIR)/$(UV) bash scripts/build_pythons.sh default freethreaded

freethreaded: | $(UV)
	@$(PIP_INDEXES); UV=$(CURDIR)/$(UV) bash scripts/build_pythons.sh freethreaded

## report: one self-contained HTML file (charts inline) + Markdown from the records in results/
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

lint: venv lock-check
	$(BIN)/ruff check config worker producer tests benchmarks
	$(BIN)/ruff format --check config worker producer tests benchmarks
	$(BIN)/mypy

## Docker Compose. pip inside `docker build` uses this machine's index (read from pip's config here,
## passed as a build arg, never written into a file). compose-up creates .env with generated passwords.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
HOST_PIP_INDEX = $${PIP_INDEX_URL:-$$($(PYTHON) -m pip config get global.index-url 2>/dev/null)}

.env:
	@umask 077; sed -e "s/^REDIS_PASSWORD=$$/REDIS_PASSWORD=$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(24))')/" \
		-e "s/^LAB_FLOWER_PASSWORD=$$/LAB_FLOWER_PASSWORD=$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(12))')/" \
		-e "s/^GRAFANA_ADMIN_PASSWORD=$$/GRAFANA_ADMIN_PASSWORD=$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(12))')/" \
		-e "s/^RABBITMQ_PASSWORD=$$/RABBITMQ_PASSWORD=$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(24))')/" \
		.env.example > .env
	@echo "wrote .env with generated passwords (Flower: user admin, LAB_FLOWER_PASSWORD in .env)"

compose-up: .env
	PIP_INDEX_URL="$(HOST_PIP_INDEX)" $(COMPOSE) up -d --build

compose-down:
	$(COMPOSE) down

## compose-test: build, start, scale and exercise the compose stack for real, on Redis then on RabbitMQ (needs a Docker engine)
compose-test: venv
	PIP_INDEX_URL="$(HOST_PIP_INDEX)" $(BIN)/python -m pytest -m compose -s -p no:cacheprovider tests/test_compose.py tests/test_compose_rabbitmq.py

clean:
	rm -rf $(VENV) $(TOOLS) .lab results test-artifacts .pytest_cache .mypy_cache .ruff_cache

## bench: every benchmark in benchmarks/ side by side (private Redis and workers each), ratios + JSON in benchmarks/results/
bench: venv
	$(BIN)/python -m benchmarks.run_all
