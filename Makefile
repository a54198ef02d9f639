# make run: first run creates .venv, installs, migrates SQLite, creates the first admin, then serves on :8000 and
# runs the TEST worker beside it (Procfile; Ctrl-C stops both).
# make test: the whole suite (SQLite by default; DATABASE_URL=postgres://... for PostgreSQL).
# make two-servers: nginx in front of two app servers and two workers on PostgreSQL and Redis (deploy/README.md).

VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
THREADS ?= 8
# The web worker's timeout; the settings read the same variable (a TEST's budget must stay below it).
WEB_TIMEOUT ?= 60
export WEB_TIMEOUT

.PHONY: run test install install-dev lint format browser bench two-servers clean

$(VENV)/.installed: requirements.txt
	@./scripts/find-python >/dev/null
	@test -x $(PY) || $$(./scripts/find-python) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	@mkdir -p .local
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_admin
	$(PY) manage.py collectstatic --noinput --verbosity 0
	HOST=$(HOST) WORKERS=$(WORKERS) THREADS=$(THREADS) $(VENV)/bin/honcho --procfile Procfile start --port $(PORT)

test: install-dev
	@./scripts/ensure-chromium
	$(PY) -m pytest

lint: install-dev
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install-dev
	$(PY) bench/test_speed.py

# Several machines, on this one: nginx, two app servers, two workers, on PostgreSQL and Redis (deploy/README.md).
two-servers: install
	$(PY) deploy/two_servers.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
