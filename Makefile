# ModelFit. `make run` serves the site with nothing installed but Python >= 3.12 and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

# `make run`, tests and benchmarks run with DEBUG on (a throwaway key) unless DEBUG is set.
# Production settings (DEBUG=0) are exercised by tests through `manage.py check --deploy`.
RUN_ENV := DEBUG=$${DEBUG:-1}

.PHONY: help install run test lint bench check-python clean

help:
	@echo "make run      install, migrate, load the catalog, serve http://$(HOST):$(PORT) with Celery worker + beat"
	@echo "make test     the whole test suite (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set)"
	@echo "make lint     ruff check, ruff format --check, mypy on estimator/, makemigrations --check"
	@echo "make bench    benchmarks in tests/perf/ (prints figures)"
	@echo "make install  create $(VENV) and install pinned dependencies (idempotent)"

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' || { \
		echo "ModelFit needs Python >= 3.12, but '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; \
		echo "Install Python 3.12+ (pyenv reads .python-version) or run: make PYTHON=python3.13 ..."; \
		exit 1; }

$(STAMP): requirements.txt requirements-dev.txt | check-python
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

install: check-python $(STAMP)

run: install
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py load_catalog
	$(RUN_ENV) $(PY) manage.py refresh_prices --from-snapshot
	$(RUN_ENV) $(PY) -m config.serve --host $(HOST) --port $(PORT)

test: install
	$(RUN_ENV) $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(RUN_ENV) $(VENV)/bin/mypy
	$(RUN_ENV) $(PY) manage.py makemigrations --check --dry-run

bench: install
	$(RUN_ENV) $(PY) -m pytest tests/perf -p no:cacheprovider -q -s --override-ini="addopts=" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
