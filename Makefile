# Everything a fresh clone needs: `make run` serves, `make test` tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export SWITCHBOARD_DATABASE_URL ?= sqlite:///var/switchboard.db

.PHONY: run test lint bench install clean chromium test-shifted-clock test-toronto mutation screenshots

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/switchboard db upgrade
	SWITCHBOARD_ALLOW_PRIVATE_URLS=$${SWITCHBOARD_ALLOW_PRIVATE_URLS:-true} $(BIN)/switchboard serve

test: $(STAMP) chromium
	$(BIN)/python -m pytest

# The console's browser test drives Debian's Chromium (never a downloaded browser).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "chromium is missing and cannot be installed here: the browser test will say so"; fi; }

# No test may depend on today's date: the ingest tests (signature windows, receipt ages) run
# again with the process clock five years ahead, through Debian's libfaketime.
test-shifted-clock: $(STAMP)
	@command -v faketime >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime; }
	faketime -f '+5y' $(BIN)/python -m pytest tests/test_ingest.py tests/test_clock.py

# A provider's time without an offset is UTC, whatever zone the machine runs in: the provider
# tables again with the process in America/Toronto (UTC-5/-4), where reading it as local time
# shows. Only tests/vendors: they are where provider times are parsed (~1 minute).
test-toronto: $(STAMP)
	TZ=America/Toronto $(BIN)/python -m pytest tests/vendors

# Mutation testing of the core, configured in pyproject.toml's [tool.mutmut]: a score per
# module and each survivor (tests/mutation.md: results and the accepted equivalent mutants).
# Hours on two cores, so not in .ci/run. MUTANTS narrows it, e.g.
# `make mutation MUTANTS='switchboard.url_policy.*'`; results start afresh each time.
# With SWITCHBOARD_TEST_DATABASE_URL set, the tests run on PostgreSQL too, as `make test`
# runs them: the only way to measure PostgreSQL-only code (ingest's combined statement).
MUTATION_JOBS ?= 2
mutation: $(STAMP)
	rm -rf mutants
	$(BIN)/mutmut run --max-children $(MUTATION_JOBS) $(MUTANTS)
	$(BIN)/python tests/mutation_score.py

lint: $(STAMP)
	$(BIN)/ruff check .

# One table of every benchmark figure against its goal (bench/scale.py); ~15-20 minutes with
# PostgreSQL at 127.0.0.1:5432. Its parts: bench/ingest.py, bench/dispatch.py,
# bench/large_callback.py, bench/ordering.py; then the provider scorecard and the overdue
# check with a million messages on PostgreSQL (bench/scorecard.py, ~1 minute).
bench: $(STAMP)
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/scorecard.py

# README's console screenshots, from a seeded database (needs chromium).
screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) var build *.egg-info
