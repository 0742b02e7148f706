# The two commands a new machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format system-deps forms fixtures clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

## make run: create the venv, install, run the bot on the built-in default (Maildir in ./var)
run: $(STAMP)
	$(BIN)/sikm run

system-deps:
	./scripts/install-system-deps.sh

## make test: install what the tests need (Dovecot included) and run lint + the whole suite
test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache
