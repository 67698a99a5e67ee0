# The front door: `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
NGINX := $(shell command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
WRK := $(shell command -v wrk 2>/dev/null || echo /usr/bin/wrk)
PROMETHEUS := $(shell command -v prometheus 2>/dev/null || echo /usr/bin/prometheus)
PROMTOOL := $(shell command -v promtool 2>/dev/null || echo /usr/bin/promtool)
NPM := $(shell command -v npm 2>/dev/null || echo /usr/bin/npm)
CHROMIUM := $(shell command -v chromium 2>/dev/null || echo /usr/bin/chromium)
FRONTEND_SOURCES := $(shell find frontend/src frontend/scripts -type f 2>/dev/null) \
	frontend/index.html frontend/vite.config.ts frontend/tsconfig.json
SERVICES := auth tasks logs kpi hooks
GATEWAY_DIR ?= .local/gateway
PROMETHEUS_DIR ?= .local/prometheus
export UV_PYTHON_DOWNLOADS := never

# Local ports of `make run`; each can be overridden from the environment.
AUTH_PORT ?= 8001
TASKS_PORT ?= 8002
LOGS_PORT ?= 8003
KPI_PORT ?= 8004
HOOKS_PORT ?= 8005
GATEWAY_PORT ?= 8080
# Each process's metrics port (METRICS_PORT in its environment), and Prometheus's UI.
AUTH_METRICS_PORT ?= 9101
TASKS_METRICS_PORT ?= 9102
LOGS_METRICS_PORT ?= 9103
KPI_METRICS_PORT ?= 9104
HOOKS_METRICS_PORT ?= 9105
AUTH_RELAY_METRICS_PORT ?= 9111
TASKS_RELAY_METRICS_PORT ?= 9112
TASKS_CONSUMER_METRICS_PORT ?= 9122
LOGS_CONSUMER_METRICS_PORT ?= 9123
KPI_CONSUMER_METRICS_PORT ?= 9124
HOOKS_CONSUMER_METRICS_PORT ?= 9125
HOOKS_DISPATCHER_METRICS_PORT ?= 9135
PROMETHEUS_PORT ?= 9090
METRICS_PORTS := AUTH_METRICS_PORT TASKS_METRICS_PORT LOGS_METRICS_PORT KPI_METRICS_PORT \
	AUTH_RELAY_METRICS_PORT TASKS_RELAY_METRICS_PORT TASKS_CONSUMER_METRICS_PORT \
	LOGS_CONSUMER_METRICS_PORT KPI_CONSUMER_METRICS_PORT HOOKS_METRICS_PORT \
	HOOKS_CONSUMER_METRICS_PORT HOOKS_DISPATCHER_METRICS_PORT PROMETHEUS_PORT
export $(METRICS_PORTS)

.PHONY: help install nginx wrk prometheus node chromium frontend frontend-check frontend-dev
	frontend-audit run migrate seed replay dead-letters redrive purge-dead-letters \
	outbox-status prune-processed maintain contract admin rotate-key promote-key openapi plots test lint \
	fmt bench bench-events bench-stream bench-hooks clean doctor

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-19s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml uv.lock
	@command -v uv >/dev/null || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet uv
	$(UV) sync --frozen
	@touch $@

install: $(BIN)/.installed nginx prometheus ## Install everything: Python packages (uv.lock), nginx and Prometheus (apt-get)

nginx: ## Install nginx with apt-get when it is missing
	@test -x "$(NGINX)" || { \
		echo "nginx is missing: installing it with apt-get"; \
		if [ "$$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi; \
		$$sudo apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq nginx >/dev/null; }

wrk: ## Install wrk (the load generator of `make bench`) with apt-get when it is missing
	@test -x "$(WRK)" || { \
		echo "wrk is missing: installing it with apt-get"; \
		if [ "$$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi; \
		$$sudo apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq wrk >/dev/null; }

# Debian's package also enables a Prometheus service of its own on :9090 where systemd runs:
# `make run` starts its own, so a fresh install switches that one off.
prometheus: ## Install Prometheus and promtool with apt-get when missing (make run's, make test's)
	@test -x "$(PROMETHEUS)" -a -x "$(PROMTOOL)" || { \
		echo "prometheus is missing: installing it with apt-get"; \
		if [ "$$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi; \
		$$sudo apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends \
			prometheus >/dev/null; \
		if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus; then \
			$$sudo systemctl disable --now prometheus; fi; }

# Debian 12's nodejs is 18, which the locked versions (Vite 6, Vitest 3) still build on.
node: ## Install Node.js and npm with apt-get when they are missing (the web app's build)
	@test -x "$(NPM)" || { \
		echo "node/npm are missing: installing them with apt-get"; \
		if [ "$$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi; \
		$$sudo apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq nodejs npm >/dev/null; }

chromium: ## Install Debian's Chromium with apt-get when missing (the browser tests' browser)
	@test -x "$(CHROMIUM)" || { \
		echo "chromium is missing: installing it with apt-get"; \
		if [ "$$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi; \
		$$sudo apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium >/dev/null; }

# npm ci when the lock file changed; the build when a source changed (the stamp is dist's index).
frontend/node_modules/.package-lock.json: frontend/package-lock.json | node
	cd frontend && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(NPM) ci --no-audit --no-fund
	@touch $@

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(FRONTEND_SOURCES)
	cd frontend && $(NPM) run --silent build
	@touch $@

frontend: frontend/dist/index.html ## Build the web app (frontend/dist) when its sources changed

frontend-check: frontend/node_modules/.package-lock.json ## The web app's API types match docs/openapi, vue-tsc, Vitest
	cd frontend && $(NPM) run --silent openapi:check
	cd frontend && $(NPM) run --silent typecheck
	cd frontend && $(NPM) run --silent test:unit

frontend-dev: frontend/node_modules/.package-lock.json ## Vite's dev server on :5173, /api/ proxied to `make run`'s gateway
	cd frontend && GATEWAY_URL=http://127.0.0.1:$(GATEWAY_PORT) $(NPM) run dev

doctor: $(BIN)/.installed ## Report PostgreSQL and RabbitMQ (installed? running?) and what `make run` would do
	$(BIN)/python -m scripts.preflight --dry-run

# Locally nothing of an older release runs while `make run` is stopped: expand and contract both.
migrate: install ## Install/start a local PostgreSQL and RabbitMQ if needed, create the database, migrate
	$(BIN)/python -m scripts.preflight
	@for service in $(SERVICES); do \
		$(BIN)/python -m services.$$service.manage prestart --contract; done

run: export AUTH_PORT := $(AUTH_PORT)
run: export TASKS_PORT := $(TASKS_PORT)
run: export LOGS_PORT := $(LOGS_PORT)
run: export KPI_PORT := $(KPI_PORT)
run: export HOOKS_PORT := $(HOOKS_PORT)
run: export GATEWAY_PORT := $(GATEWAY_PORT)
run: export NGINX_BIN := $(NGINX)
run: export GATEWAY_DIR := $(GATEWAY_DIR)
run: export GATEWAY_ACCESS_LOG ?= logs/access.log
run: export PROMETHEUS_BIN := $(PROMETHEUS)
run: export PROMETHEUS_DIR := $(PROMETHEUS_DIR)
run: export METRICS_ADDRESS ?= 127.0.0.1
run: export AUTH_URL ?= http://127.0.0.1:$(AUTH_PORT)
run: export AUTH_JWKS_URL ?= http://127.0.0.1:$(AUTH_PORT)/auth/.well-known/jwks.json
run: export AUTH_UPSTREAM ?= 127.0.0.1:$(AUTH_PORT)
run: export TASKS_UPSTREAM ?= 127.0.0.1:$(TASKS_PORT)
run: export LOGS_UPSTREAM ?= 127.0.0.1:$(LOGS_PORT)
run: export KPI_UPSTREAM ?= 127.0.0.1:$(KPI_PORT)
run: export HOOKS_UPSTREAM ?= 127.0.0.1:$(HOOKS_PORT)
run: migrate frontend ## Start every process: the web app on http://127.0.0.1:8080/, the API under /api/, Prometheus on :9090
	$(BIN)/python gateway/render.py $(GATEWAY_DIR)
	$(BIN)/python -m scripts.prometheus_config $(PROMETHEUS_DIR)
	exec $(BIN)/honcho start -f Procfile

seed: install ## Fill a running system with demo data through the gateway
	$(BIN)/python -m scripts.seed --url http://127.0.0.1:$(GATEWAY_PORT)/api

plots: install ## Draw a running system's cumulative flow and cycle times into docs/plots/*.png
	$(BIN)/python -m scripts.plot_kpis --url http://127.0.0.1:$(GATEWAY_PORT)/api --out docs/plots

# Which consumers read which events: a replay re-publishes those, each to its own replay queue.
TASK_EVENT_CONSUMERS := logs kpi
USER_EVENT_CONSUMERS := kpi tasks
REPLAY_ABORT = { $(BIN)/python -m services.$(CONSUMER).manage replay-abort; exit 1; }

replay: install ## Rebuild a consumer's read model beside the live one, then switch: make replay CONSUMER=kpi
	@case " $(TASK_EVENT_CONSUMERS) $(USER_EVENT_CONSUMERS) " in *" $(CONSUMER) "*) ;; \
		*) echo "usage: make replay CONSUMER=logs|kpi|tasks"; exit 2;; esac
	$(BIN)/python -m services.$(CONSUMER).manage replay-start
	$(if $(filter $(CONSUMER),$(TASK_EVENT_CONSUMERS)),$(BIN)/python -m services.tasks.manage replay --queue $(CONSUMER).task-events.replay || $(REPLAY_ABORT))
	$(if $(filter $(CONSUMER),$(USER_EVENT_CONSUMERS)),$(BIN)/python -m services.auth.manage replay --queue $(CONSUMER).user-events.replay || $(REPLAY_ABORT))
	$(BIN)/python -m services.$(CONSUMER).manage replay-finish

# Operations (shared/messaging/ops.py). A consumer's services own dead letters and processed events, a
# producer's an outbox. Optional: QUEUE=<one of the consumer's queues>, ID="<message id> ...".
CONSUMERS := logs kpi tasks hooks
PRODUCERS := tasks auth
DEAD_LETTER_ARGS = $(if $(QUEUE),--queue $(QUEUE)) $(addprefix --id ,$(ID))

# `python -m services.$(CONSUMER).manage <arguments>`, once CONSUMER names a consumer.
define consumer-manage
	@case " $(CONSUMERS) " in *" $(CONSUMER) "*) ;; \
		*) echo "usage: make $@ CONSUMER=logs|kpi|tasks|hooks [QUEUE=...] [ID=...]"; exit 2;; esac
	$(BIN)/python -m services.$(CONSUMER).manage $(1)
endef

dead-letters: install ## List a consumer's dead letters with their errors: make dead-letters CONSUMER=kpi
	$(call consumer-manage,dead-letters list $(if $(QUEUE),--queue $(QUEUE)))

redrive: install ## Send a consumer's dead letters back to its queue: make redrive CONSUMER=kpi [ID=...]
	$(call consumer-manage,dead-letters redrive $(DEAD_LETTER_ARGS))

purge-dead-letters: install ## Delete a consumer's dead letters, after asking: CONSUMER=kpi [ID=...] [YES=1]
	$(call consumer-manage,dead-letters purge $(DEAD_LETTER_ARGS) $(if $(YES),--yes))

outbox-status: install ## Events waiting in the tasks and auth outboxes, and the oldest one's age
	@for service in $(PRODUCERS); do $(BIN)/python -m services.$$service.manage outbox-status; done

prune-processed: install ## Forget processed event ids past PROCESSED_EVENT_RETENTION_DAYS (14): [CONSUMER=kpi]
	@for service in $(or $(CONSUMER),$(CONSUMERS)); do \
		$(BIN)/python -m services.$$service.manage prune-processed; done

maintain: install ## Trim every service's tables past their retention (docs/retention.md): [SERVICE=auth]
	@for service in $(or $(SERVICE),$(SERVICES)); do \
		$(BIN)/python -m services.$$service.manage maintain; done

contract: install ## Apply the contract migrations, once no process of the release before runs (docs/migrations.md)
	@for service in $(SERVICES); do $(BIN)/python -m services.$$service.manage contract; done

admin: install ## Create an admin: make admin USERNAME=root EMAIL=root@example.com (PROMOTE=1: an existing user)
	@test -n "$(USERNAME)" -a -n "$(EMAIL)" || { echo "usage: make admin USERNAME=... EMAIL=... [PROMOTE=1]"; exit 2; }
	$(BIN)/python -m services.auth.manage create-admin --username "$(USERNAME)" --email "$(EMAIL)" $(if $(PROMOTE),--promote)

rotate-key: install ## Stage a new JWT signing key (published, not signing); restart auth, then promote-key
	$(BIN)/python -m services.auth.manage rotate-key

promote-key: install ## Make the staged JWT key sign (5 min after it was published); then restart auth
	$(BIN)/python -m services.auth.manage promote-key

openapi: install frontend/node_modules/.package-lock.json ## Regenerate docs/openapi/<service>.json and the web app's API types (commit them)
	LOG_LEVEL=WARNING $(BIN)/python -m scripts.openapi
	cd frontend && $(NPM) run --silent openapi

# The tests' PostgreSQL is TEST_DATABASE_URL's (tests/conftest.py's default otherwise). The line
# coverage of the code is printed at the end; below pyproject's `fail_under` the run fails.
TEST_DATABASE_DEFAULT := postgresql+psycopg2://postgres@127.0.0.1:5432/efficient_test
test: lint frontend-check chromium ## Lint, the web app's checks, PostgreSQL and RabbitMQ up, every test (e2e, browser)
	DATABASE_URL="$${TEST_DATABASE_URL:-$(TEST_DATABASE_DEFAULT)}" $(BIN)/python -m scripts.preflight
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pytest --cov --cov-report=

lint: install ## ruff (lint and format check) and mypy strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

fmt: install ## Format and auto-fix the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install wrk ## Benchmark through the gateway, the event path, live streams, KPIs, webhooks, the web app
	$(BIN)/python -m benchmarks.gateway_bench
	$(BIN)/python -m benchmarks.stream
	$(BIN)/python -m benchmarks.kpi_scaling
	$(BIN)/python -m benchmarks.hooks
	$(MAKE) --no-print-directory frontend-audit

bench-hooks: install wrk ## Only the webhook lines of `make bench` (201-to-receipt times, POST cost)
	$(BIN)/python -m benchmarks.hooks

frontend-audit: install chromium frontend/node_modules/.package-lock.json ## The web app's targets on seeded data: first-route JS, charts drawn in 1 s, Lighthouse
	$(BIN)/python -m benchmarks.frontend_audit

bench-events: install wrk ## Only the event path's lines of `make bench` (drain, 201-to-log time, backlog)
	$(BIN)/python -m benchmarks.event_path

bench-stream: install wrk ## Only the live stream's lines of `make bench` (1,000 streams, 201-to-stream time)
	$(BIN)/python -m benchmarks.stream

clean: ## Remove the virtualenv, caches and local state (generated signing key, gateway config)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .local
