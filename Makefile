# Two commands for a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Django 6 needs Python 3.12+: take python3.13 or python3.12 from PATH or pyenv.
PYTHON ?= $(shell for p in python3.13 python3.12 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12); do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/supermarket
REDIS ?= redis://127.0.0.1:6379/0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: audit help demo test test-replica install system-deps check-services lint
.PHONY: test-reliability
.PHONY: messages

help:
	@echo "make demo   install everything, seed demo data, serve on http://127.0.0.1:8000 (embedded SQLite)"
	@echo "make test   run the whole test suite against PostgreSQL and Redis on 127.0.0.1"

$(BIN)/.installed: requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is required (python3.12 / python3.13 not found)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed system-deps

# Debian packages the system needs: libzbar0 for camera decoding, Chromium for page tests.
system-deps:
	@missing=""; \
	ldconfig -p | grep -q 'libzbar.so.0' || missing="$$missing libzbar0"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	command -v msgfmt >/dev/null || missing="$$missing gettext"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo --if-empty
	@echo "Serving on http://127.0.0.1:8000/  (admin: /admin/, till: /checkout/)"
	$(BIN)/python manage.py runserver --nostatic 127.0.0.1:8000

check-services:
	@DATABASE_URL="$${DATABASE_URL:-$(PG_URL)}" REDIS_URL="$${REDIS_URL:-$(REDIS)}" $(BIN)/python -m supermarket.checkservices

test: install
	@$(MAKE) --no-print-directory check-services
	DATABASE_URL="$${DATABASE_URL:-$(PG_URL)}" REDIS_URL="$${REDIS_URL:-$(REDIS)}" SECRET_KEY=test-only-not-secret LANGUAGE_CODE=en \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

# Known vulnerabilities in every pin of requirements.txt and requirements-dev.txt, the venv's unpinned
# packages (pip) and the vendored htmx, from PyPI's JSON API and the npm registry; see
# scripts/audit.py and docs/SECURITY.md for what passes and what fails. AUDIT_REQUIRED=1 fails when
# no advisory source answers.
audit: install
	$(BIN)/python scripts/audit.py --installed

# Router tests against a real streaming replica of the local cluster on 127.0.0.1:5433.
test-replica: install
	@$(MAKE) --no-print-directory check-services
	@dir=$$(mktemp -d /tmp/supermarket-replica.XXXXXX); \
	trap 'scripts/replica.sh stop '"$$dir" EXIT; \
	scripts/replica.sh start $$dir && \
	DATABASE_URL="$${DATABASE_URL:-$(PG_URL)}" REPLICA_DATABASE_URL="$${REPLICA_DATABASE_URL:-postgres://postgres@127.0.0.1:5433/supermarket}" \
	REDIS_URL="$${REDIS_URL:-$(REDIS)}" SECRET_KEY=test-only-not-secret LANGUAGE_CODE=en \
		$(BIN)/python -m pytest tests/replica $(PYTEST_ARGS)

# Fault and load suite (docs/RELIABILITY.md): a real gunicorn with 50 API clients while workers are killed,
# PostgreSQL restarted and Redis stopped (both restarted afterwards), bad input, generated requests.
test-reliability: install
	@$(MAKE) --no-print-directory check-services
	DATABASE_URL="$${DATABASE_URL:-$(PG_URL)}" REDIS_URL="$${REDIS_URL:-$(REDIS)}" SECRET_KEY=test-only-not-secret LANGUAGE_CODE=en \
	RELIABILITY_FAULTS=1 RELIABILITY_FUZZ_EXAMPLES="$${RELIABILITY_FUZZ_EXAMPLES:-2000}" \
		$(BIN)/python -m pytest -s -q -p no:cacheprovider tests/reliability $(PYTEST_ARGS)

# Refresh the Chinese catalog from the code and templates, then compile it (the .mo is committed).
messages: install
	$(BIN)/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=bench --ignore=tests --ignore=staticfiles --ignore=static/vendor
	$(BIN)/python manage.py compilemessages --ignore=.venv
