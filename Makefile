# Reelay — the two commands that matter: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi
# The simulator and Reelay agree on this key; it is not a secret (local fake upstream).
export REELAY_SIM_KEY ?= sim-key
# The simulator's Veo-on-Vertex provider signs in with a throwaway service-account key
# file, made here on first run (development only).
export REELAY_SIM_VERTEX_CREDENTIALS ?= $(CURDIR)/instance/sim-vertex-key.json
HOST ?= 127.0.0.1
PORT ?= 8000
SIM_PORT ?= 8001

.PHONY: run test simulator migrate lint format bench-poller bench-pages bench-api clean help

help:
	@echo "make run        set up and serve Reelay on http://$(HOST):$(PORT) with the built-in simulator"
	@echo "make test       set up and run the whole test suite"
	@echo "make simulator  run only the simulator on port $(SIM_PORT)"
	@echo "make lint       ruff format --check and ruff check"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

migrate: $(VENV)/.runtime
	$(BIN)/flask db upgrade

run: migrate
	$(BIN)/flask providers seed-simulator --url http://127.0.0.1:$(SIM_PORT)
	BIN=$(BIN) HOST=$(HOST) PORT=$(PORT) SIM_PORT=$(SIM_PORT) sh scripts/run-local.sh

simulator: $(VENV)/.runtime
	$(BIN)/python -m webapp.simulator --port $(SIM_PORT)

test: $(VENV)/.dev
	$(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench-poller: $(VENV)/.dev
	$(BIN)/python bench/poller.py

bench-pages: $(VENV)/.dev
	$(BIN)/python bench/pages.py

bench-api: $(VENV)/.dev
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) instance/reelay.sqlite3*
