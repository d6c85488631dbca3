# Parley — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
# The project's own uv, never one found on the PATH: a fresh machine has none.
UV := $(CURDIR)/.cache/uv/bin/uv
STACK := UV=$(UV) bash deploy/local/stack.sh
# Services and tests read the stack's addresses from these variables.
STACK_ENV = eval "$$($(STACK) env)"; export CREDENTIALS_KEY="$${CREDENTIALS_KEY:-$$(cat .run/credentials.key)}"
# `make run` and `make cli` share one API key pepper (the gateway refuses to start
# without one), kept in .run/ so keys made by one run still work after a restart.
RUN_ENV = $(STACK_ENV); export API_KEY_PEPPER="$${API_KEY_PEPPER:-$$(cat .run/api-key-pepper)}"

.PHONY: help install helm browser stack-up stack-down run cli test test-unit test-integration test-e2e test-reliability lint typecheck schemas bench compose-env images

# Tests never touch what `make run` uses (database "parley", unprefixed topics): anything
# that falls back to the environment gets these. Target-specific, so they reach the
# prerequisites too: stack-up then creates the test.-prefixed topics.
TEST_TARGETS := test test-unit test-integration test-e2e test-reliability
$(TEST_TARGETS): export MONGODB_DATABASE := parley_test
$(TEST_TARGETS): export KAFKA_TOPIC_PREFIX := test.

help:
	@echo "make run    install, start Kafka + MongoDB (FerretDB), the sandbox and all services"
	@echo "make test   install, start the stack, run lint, type checks, unit, integration and e2e tests"
	@echo "make stack-down   stop the local Kafka and MongoDB-compatible server"
	@echo "make cli ARGS=\"connections list\"   the operator CLI (parley) against the local stack"
	@echo "make compose-env   write .env with generated secrets; then docker compose up --build"
	@echo "make images TAG=x   docker build parley-<service>:x from deploy/docker/*.Dockerfile"

$(UV):
	python3 -m pip install --quiet --disable-pip-version-check --target .cache/uv uv==$(UV_VERSION)

install: $(UV)
	$(UV) sync --all-packages --frozen --quiet

.run/credentials.key: | install
	@mkdir -p .run && umask 077 && $(UV) run --frozen parley generate-key > $@

.run/api-key-pepper:
	@mkdir -p .run && umask 077 && python3 -c "import secrets; print(secrets.token_urlsafe(32))" > $@

stack-up: install .run/credentials.key
	$(STACK) up

stack-down:
	$(STACK) down

# Docker: writes .env with generated secrets, which docker compose reads; then
# `docker compose up --build`. An existing .env is kept.
compose-env: install
	UV=$(UV) bash deploy/docker/secrets.sh

# One image per service, plus cli (parley, topics admin) and sandbox (compose and tests
# only): parley-<name>:$(TAG), built from the repository root (needs a Docker engine).
IMAGES := ingest normalizer responder invoicer gateway cli sandbox
TAG ?= dev
images:
	@for name in $(IMAGES); do \
	  docker build -f deploy/docker/$$name.Dockerfile -t parley-$$name:$(TAG) \
	    --build-arg VERSION=$(TAG) --build-arg REVISION="$$(git rev-parse HEAD)" \
	    --build-arg CREATED="$$(date -u +%Y-%m-%dT%H:%M:%SZ)" . ; \
	done

run: stack-up .run/api-key-pepper
	@$(RUN_ENV); $(UV) run --frozen python deploy/local/devstack.py run

# The operator CLI against the local stack, e.g. make cli ARGS="connections list".
cli: stack-up .run/api-key-pepper
	@$(RUN_ENV); $(UV) run --frozen parley $(ARGS)

# helm for the chart tests (deploy/helm/parley), built from its Go module into .cache/helm
# once (a few minutes); later runs find it and return at once.
helm:
	@bash deploy/helm/install-helm.sh >/dev/null

# The browser tests' tools (tests/browser/install.sh): Debian's chromium (apt-get, once)
# and playwright-core + axe-core from tests/browser/package-lock.json (npm ci, again only
# when the lock file changes); a no-op when both are there.
browser:
	@bash tests/browser/install.sh

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: install
	$(UV) run --frozen mypy libs/schemas/src libs/platform/src libs/store/src libs/connectors/src \
		services/ingest/src services/normalizer/src services/responder/src \
		services/invoicer/src services/gateway/src sandbox/src cli/src

schemas: install
	$(UV) run --frozen python -m parley_schemas.jsonschema libs/schemas/jsonschema
	$(UV) run --frozen python -m parley_schemas.asyncapi > libs/schemas/asyncapi.json
	$(UV) run --frozen python -m parley_schemas.examples docs/events.md
	$(UV) run --frozen python -m parley_gateway.contracts services/gateway

test: lint typecheck helm browser stack-up
	@$(STACK_ENV); $(UV) run --frozen pytest -p no:cacheprovider -ra $(PYTEST_ARGS)

test-unit: install helm
	$(UV) run --frozen pytest -p no:cacheprovider tests/unit tests/contract

test-integration: stack-up
	@$(STACK_ENV); $(UV) run --frozen pytest -p no:cacheprovider -ra tests/integration

test-e2e: browser stack-up
	@$(STACK_ENV); $(UV) run --frozen pytest -p no:cacheprovider -ra tests/e2e

# Kills services, stops a private Kafka and database mid-burst, has the marketplace
# misbehave; counts lost / duplicated / double-sent / falsely sent (each must be 0) into
# .run/reliability/report.json. Part of `make test` too.
test-reliability: stack-up
	@$(STACK_ENV); $(UV) run --frozen pytest -p no:cacheprovider -ra -s tests/reliability

# The benchmark suite P1-P6 (bench/__main__.py): each figure against a baseline of the same
# run, results in bench/results/. Its own database and topics, like the tests'.
# BENCH_ARGS="--quick" for a smoke check, "--only P1,P3", sizes: python -m bench --help.
bench: export MONGODB_DATABASE := parley_bench
bench: export KAFKA_TOPIC_PREFIX := bench.
bench: stack-up
	@$(STACK_ENV); $(UV) run --frozen python -m bench $(BENCH_ARGS)
