# The hub's day-to-day commands. Everything runs through uv in one workspace (.venv).
UV := ./scripts/uv
STACK := $(UV) run --frozen deh-stack

.PHONY: up down status logs clean test lint format bench sync

sync:
	@$(UV) sync --frozen --quiet

up: sync  ## fetch (once) and start Kafka, OpenSearch, MongoDB and the four services
	@$(STACK) up

down:  ## stop everything started by `make up`
	@$(STACK) down

status:
	@$(STACK) status

logs:
	@$(STACK) logs

clean:  ## stop and delete local data and logs (downloads stay cached)
	@$(STACK) clean

test: sync  ## unit, integration and end-to-end tests against real servers the tests start
	@$(UV) run --frozen pytest

lint: sync  ## formatting, lint and types
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen mypy libs services tests bench conftest.py

format: sync
	@$(UV) run --frozen ruff format .
	@$(UV) run --frozen ruff check --fix .

bench: sync  ## messaging, search, registration and projection benchmarks against raw baselines (own servers unless DEH_* are set)
	@$(UV) run --frozen python bench/messaging.py
	@$(UV) run --frozen python bench/search.py
	@$(UV) run --frozen python bench/registration.py
	@$(UV) run --frozen python bench/projection.py
