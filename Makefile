# The front door: `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
SERVICES := auth tasks
export UV_PYTHON_DOWNLOADS := never

.PHONY: help install run test lint fmt migrate admin clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml uv.lock
	@command -v uv >/dev/null || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet uv
	$(UV) sync --frozen
	@touch $@

install: $(BIN)/.installed ## Install the Python packages into .venv (uv, from uv.lock)

migrate: install ## Wait for PostgreSQL, create the database if missing, apply every migration
	$(BIN)/python -m scripts.preflight
	@for service in $(SERVICES); do $(BIN)/python -m services.$$service.manage prestart; done

run: migrate ## Start every service in the foreground (Ctrl-C stops them all)
	exec $(BIN)/honcho start -f Procfile

test: lint ## Lint, then run every test against the real PostgreSQL (and RabbitMQ)
	$(BIN)/pytest

lint: install ## ruff (lint and format check) and mypy strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

fmt: install ## Format and auto-fix the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

admin: install ## Create or promote an admin: make admin USERNAME=root EMAIL=root@example.com
	@test -n "$(USERNAME)" -a -n "$(EMAIL)" || { echo "usage: make admin USERNAME=... EMAIL=..."; exit 2; }
	$(BIN)/python -m services.auth.manage create-admin --username "$(USERNAME)" --email "$(EMAIL)"

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
