# Everything a fresh clone needs: `make run` serves, `make test` tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export SWITCHBOARD_DATABASE_URL ?= sqlite:///var/switchboard.db

.PHONY: run test lint bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/switchboard db upgrade
	SWITCHBOARD_ALLOW_PRIVATE_URLS=$${SWITCHBOARD_ALLOW_PRIVATE_URLS:-true} $(BIN)/switchboard serve

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var build *.egg-info
