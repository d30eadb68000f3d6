# Two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Worker processes for `make run` (uvicorn --workers). More than one needs
# REDIS_URL: the in-memory channel layer does not cross processes.
WORKERS ?= 1
# Local runs default to DEBUG (embedded PostgreSQL, in-memory layer when
# DATABASE_URL / REDIS_URL are unset). Production sets DEBUG=false.
export DEBUG ?= true
# Keep in step with WS_MAX_MESSAGE_BYTES (settings) and the Procfile. No
# permessage-deflate: it doubled the memory and CPU of a socket (tests/bench/notes.md).
UVICORN_FLAGS := --lifespan on --ws config.websocket_protocol:WebSocketProtocol --ws-max-size 65536 --ws-ping-interval 20 --ws-ping-timeout 20 --ws-per-message-deflate false

.PHONY: install run workers-need-redis vapid-keys test lint i18n-check messages chaos bench migrate seed lock clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	touch $@

migrate: install
	$(PY) manage.py migrate_schemas --noinput

seed: migrate
	$(PY) manage.py seed_demo

run: workers-need-redis seed vapid-keys
	$(PY) -m uvicorn config.asgi:application --host 127.0.0.1 --port $(PORT) --workers $(WORKERS) $(UVICORN_FLAGS)

# Web Push keys for local runs, made once under var/ and kept (browsers'
# subscriptions are bound to them); an environment with VAPID_PRIVATE_KEY
# uses its own. Production sets them (`manage.py vapid_keys` prints a pair).
vapid-keys: install
	@if [ -z "$$VAPID_PRIVATE_KEY" ]; then $(PY) manage.py vapid_keys --write "$${VAR_DIR:-var}/vapid.env"; fi

workers-need-redis:
	@if [ "$(WORKERS)" != 1 ] && [ -z "$$REDIS_URL$$REDIS_SENTINELS" ]; then \
		echo "make run WORKERS=$(WORKERS) needs REDIS_URL: workers reach each other's sockets only through Redis" >&2; exit 2; fi

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# Format, lint and the layers of the design card (pyproject.toml); CI runs it.
lint: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(MAKE) --no-print-directory i18n-check

# Every string a person reads has its Spanish, and the .mo files are compiled
# from the .po files (docs/i18n.md). Needs GNU gettext.
i18n-check: install
	$(PY) .ci/i18n_check.py

# After adding or changing strings: update the catalogs (then translate the
# empty msgstr in locale/es/LC_MESSAGES/*.po and run it again to compile).
MESSAGES_IGNORE := --ignore=.venv --ignore=var --ignore=staticfiles --ignore=tests --ignore=test-results
messages: install
	$(PY) manage.py makemessages -l es --no-obsolete $(MESSAGES_IGNORE)
	$(PY) manage.py makemessages -d djangojs -l es --no-obsolete $(MESSAGES_IGNORE)
	$(PY) manage.py compilemessages --ignore=.venv

# Only the fault tests (they are part of `make test` too): Redis killed,
# PostgreSQL restarted, workers killed and stopped, on private servers.
chaos: install
	$(PY) -m pytest -m faults $(PYTEST_ARGS)

# Measure against real services (this machine's by default). QUICK=1: a smoke run.
bench: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/pregon} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/2} \
	$(PY) -m tests.bench.run $(if $(QUICK),--quick) --write docs/performance$(if $(QUICK),-quick).md

# Re-pin every package after changing pyproject.toml's ranges.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	$(PYTHON) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + p["optional-dependencies"]["test"]))' > .lock-venv/wanted.txt
	.lock-venv/bin/pip install --quiet -r .lock-venv/wanted.txt
	.lock-venv/bin/pip freeze > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) var .pytest_cache
