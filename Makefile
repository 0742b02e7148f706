# The two commands a new machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format system-deps run-deps forms fixtures wheel clean

# The egg-info is a leftover of the former setuptools build: on sys.path through the
# checkout, importlib.metadata would read a stale version from it.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	rm -rf sikm_mailbot.egg-info
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

## make run: create the venv, install, run the bot on the built-in default (Maildir in ./var)
## (installs Tesseract OCR with its Indonesian/English data when missing: it reads photos and scans)
run: $(STAMP) run-deps
	$(BIN)/sikm run

run-deps:
	./scripts/install-system-deps.sh --run

system-deps:
	./scripts/install-system-deps.sh

## make test: install what the tests need (Tesseract and Dovecot included), run lint + the whole suite
## (tests/test_wheel.py installs the built wheel into a fresh venv: needs PyPI or pip's cache)
test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

## make wheel: the installable wheel (templates and migrations inside) in dist/
wheel: $(STAMP)
	$(BIN)/python -m build --wheel --outdir dist .

clean:
	rm -rf $(VENV) .pytest_cache dist sikm_mailbot.egg-info
