# Two commands: `make run` (venv, install, migrate, demo data, serve) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
CHROMIUM ?= /usr/bin/chromium

.PHONY: install run serve migrate seed-demo test test-sqlite test-postgres lint validate clean vendor-bpmn-js bench

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/python -m engine.cli migrate

seed-demo: migrate
	$(BIN)/python -m engine.cli seed-demo

# The web app and the background worker (timers, mail, webhook deliveries), started and stopped together by honcho.
# Webhooks may go to this machine only unless WEBHOOK_ALLOWED_HOSTS says otherwise.
run: seed-demo
	@echo "Serving on http://127.0.0.1:$(PORT)  (demo users: billing, approver, supervisor, admin, lakeside, analyst; password: demo)"
	@echo "Mail: $${SMTP_URL:-written as .eml files to $(CURDIR)/instance/mail/ (set SMTP_URL to send it)}"
	WEB_PORT=$(PORT) WEBHOOK_ALLOWED_HOSTS=$${WEBHOOK_ALLOWED_HOSTS-127.0.0.1,localhost} $(BIN)/honcho start -f Procfile

validate: install
	$(BIN)/python -m engine.cli validate processes

lint: install
	$(BIN)/ruff check engine webapp tests bench
	$(BIN)/ruff format --check engine webapp tests bench

test: install lint validate
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  echo "Browser tests need Debian's Chromium at $(CHROMIUM): install it with 'sudo apt-get install -y chromium'."; \
	fi
	$(MAKE) test-sqlite
	@if [ -n "$$TEST_POSTGRES_URL" ]; then $(MAKE) test-postgres; \
	 else echo "TEST_POSTGRES_URL is not set: the suite ran on SQLite only."; fi

test-sqlite: install
	TEST_DB=sqlite $(BIN)/pytest

test-postgres: install
	TEST_DB=postgres $(BIN)/pytest

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache

BPMN_JS_VERSION ?= 18.31.1
BPMN_JS_DIR := webapp/static/vendor/bpmn-js

# Refresh the vendored bpmn.io viewer from the npm registry (needs npm; `make run` and `make test` never do).
vendor-bpmn-js:
	rm -rf /tmp/bpmn-js-vendor && mkdir -p /tmp/bpmn-js-vendor
	cd /tmp/bpmn-js-vendor && npm pack --silent bpmn-js@$(BPMN_JS_VERSION) && tar xzf bpmn-js-$(BPMN_JS_VERSION).tgz
	rm -rf $(BPMN_JS_DIR) && mkdir -p $(BPMN_JS_DIR)/assets
	cp /tmp/bpmn-js-vendor/package/dist/bpmn-navigated-viewer.production.min.js $(BPMN_JS_DIR)/
	cp /tmp/bpmn-js-vendor/package/dist/assets/diagram-js.css /tmp/bpmn-js-vendor/package/dist/assets/bpmn-js.css $(BPMN_JS_DIR)/assets/
	cp /tmp/bpmn-js-vendor/package/LICENSE $(BPMN_JS_DIR)/LICENSE
	printf 'bpmn-js %s (npm), dist/bpmn-navigated-viewer.production.min.js and dist/assets/*.css.\nLicence: LICENSE (bpmn.io licence: keep the bpmn.io watermark visible).\nRefresh: make vendor-bpmn-js BPMN_JS_VERSION=x.y.z\n' $(BPMN_JS_VERSION) > $(BPMN_JS_DIR)/VERSION

# 100,000 instances bulk-filled on SQLite and PostgreSQL (TEST_POSTGRES_URL, else postgres@127.0.0.1:5432/test;
# skipped if unreachable): list/queue latency, lifecycle rate (engine vs HTTP), SQL per action -> bench/results.md
bench: install
	$(BIN)/python -m bench.run
