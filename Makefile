# make demo: set up everything and serve two demo help desks that outsource to each other.
# make test: set up everything and run the whole test suite, on SQLite and on PostgreSQL side by side,
# and the in-process tier on the oldest supported versions (tests/oldest-versions.txt) in a venv of its own.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The oldest supported versions: every install requirement at its declared lower bound (dev tools float).
OLDEST_VENV := .venv-oldest
OLDEST_BIN := $(OLDEST_VENV)/bin
OLDEST_PINS := tests/oldest-versions.txt
# The fast tier (make test-fast): in this process only, on SQLite. No host or worker process, partner
# server, browser, root or Debian package, and not the generated-input suites (schemathesis, fuzz);
# under two minutes on a 2-core machine.
FAST_TESTS := tests/test_layout.py tests/outsource_plugin tests/blueprints tests/security \
  tests/jobs/test_delivery_nudge.py tests/jobs/test_delivery_pipeline.py tests/jobs/test_delivery_loop.py tests/jobs/test_poll.py tests/jobs/test_isolation.py tests/jobs/test_leave.py tests/examples/test_helpdesk.py tests/examples/test_entry_origin.py \
  tests/second_host/test_guide.py tests/third_host/test_guide.py
GENERATED_INPUT_TESTS := tests/blueprints/test_schemathesis.py tests/blueprints/test_fuzz.py
# The oldest versions run the fast tier, the generated-input suites and what starts its own processes
# without root: the wheel build, the demo launcher, the second host and the third (a Flask 2.3 host).
OLDEST_TESTS := $(FAST_TESTS) tests/test_packaging.py tests/examples/test_demo.py tests/second_host/test_second_host.py \
  tests/third_host/test_mounting.py tests/third_host/test_third_host.py
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432
DEMO_DIR ?= var/demo
# make demo DEMO_PORTS=8000,8001: the lead's and the partner's port; make demo DB=postgres: a PostgreSQL database per host
DEMO_PORTS ?= 5000,5001
DB ?= sqlite
FAKETIME_LIB ?= /usr/lib/$(shell uname -m)-linux-gnu/faketime/libfaketime.so.1
DOVECOT := /usr/sbin/dovecot
# axe-core from npm, pinned by tests/pages/package-lock.json: the accessibility check of the browser tests
AXE := tests/pages/node_modules/axe-core/axe.min.js

.PHONY: venv venv-oldest system-deps axe partner-systems lint test test-fast test-sqlite test-postgres test-oldest demo bench bench-quick clean

$(BIN)/activate: setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres,metrics,demo]'
	touch $@

venv: $(BIN)/activate

$(OLDEST_BIN)/activate: setup.py pyproject.toml $(OLDEST_PINS)
	$(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_BIN)/pip install --quiet --upgrade pip
	$(OLDEST_BIN)/pip install --quiet -c $(OLDEST_PINS) -e '.[dev,postgres,metrics,demo]'
	touch $@

venv-oldest: $(OLDEST_BIN)/activate

# The browser tests (tests/pages) drive Debian's Chromium, the clock-skew fault tests (tests/faults) run a
# host under Debian's libfaketime, and the e-mail partner's tests read mail from Debian's Dovecot (started by
# the tests themselves from a configuration of their own, never as the system service); install each once
# when it is missing.
system-deps:
	@command -v chromium >/dev/null || test -x /usr/bin/chromium || \
	  { apt-get update && apt-get install -y chromium; } || \
	  { echo "Debian's chromium package is needed for the browser tests (tests/pages) and could not be installed: run 'apt-get install chromium' as root, then make test again" >&2; exit 1; }
	@command -v chromium >/dev/null || test -x /usr/bin/chromium || \
	  { echo "chromium is still missing after apt-get install: install it and run make test again" >&2; exit 1; }
	@test -e $(FAKETIME_LIB) || \
	  { apt-get update && apt-get install -y faketime; } || \
	  { echo "Debian's faketime package is needed for the clock-skew tests (tests/faults) and could not be installed: run 'apt-get install faketime' as root, then make test again" >&2; exit 1; }
	@test -e $(FAKETIME_LIB) || \
	  { echo "$(FAKETIME_LIB) is still missing after apt-get install: install faketime and run make test again" >&2; exit 1; }
	@test -x $(DOVECOT) || \
	  { apt-get update && apt-get install -y --no-install-recommends dovecot-imapd; } || \
	  { echo "Debian's dovecot-imapd package is needed for the e-mail partner's tests (tests/adapters) and could not be installed: run 'apt-get install dovecot-imapd' as root, then make test again" >&2; exit 1; }
	@test -x $(DOVECOT) || \
	  { echo "$(DOVECOT) is still missing after apt-get install: install dovecot-imapd and run make test again" >&2; exit 1; }

# The browser tests inject axe-core (tests/pages/test_accessibility.py); npm ci installs the locked version.
$(AXE): tests/pages/package.json tests/pages/package-lock.json
	@command -v npm >/dev/null || \
	  { echo "npm is needed to install axe-core for the browser tests (tests/pages): install Node.js and npm, then make test again" >&2; exit 1; }
	npm ci --prefix tests/pages --no-audit --no-fund
	touch $@

axe: $(AXE)

# Redmine and Request Tracker from Debian packages, for the adapter contract suite (root; apt-get when missing).
# The test fixtures start them on free loopback ports and would install them too; this does it up front.
partner-systems: venv
	$(BIN)/python -m tests.adapters.servers

# import-linter (contracts in pyproject.toml) reads the package as installed: adapters/, blueprints/ and jobs/
# are copied into it, as the wheel has them.
LAYERING := build/layering
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy outsource_plugin adapters blueprints jobs examples
	rm -rf $(LAYERING) && mkdir -p $(LAYERING)
	cp -r outsource_plugin $(LAYERING)/ && cp -r adapters blueprints jobs $(LAYERING)/outsource_plugin/
	cd $(LAYERING) && PYTHONPATH=. $(CURDIR)/$(BIN)/lint-imports --no-cache $(CURDIR)/pyproject.toml

test-sqlite: venv system-deps axe partner-systems
	$(BIN)/python -m pytest -q

test-postgres: venv system-deps axe partner-systems
	@$(BIN)/python -c "import psycopg; psycopg.connect('$(subst +psycopg,,$(PG_URL))/postgres', connect_timeout=5).close()" \
	  || { echo "PostgreSQL is not reachable at $(PG_URL): start it (pg_ctlcluster ... start) and run make test again" >&2; exit 1; }
	OUTSOURCE_TEST_DATABASE_URL=$(PG_URL) $(BIN)/python -m pytest -q

# The tier to run while working; make test stays the gate.
test-fast: venv
	env -u OUTSOURCE_TEST_DATABASE_URL $(BIN)/python -m pytest -q -p no:cacheprovider \
	  $(addprefix --ignore=,$(GENERATED_INPUT_TESTS)) $(FAST_TESTS)

# The oldest supported versions, on SQLite: the declared lower bounds are what is tested.
test-oldest: venv-oldest
	env -u OUTSOURCE_TEST_DATABASE_URL $(OLDEST_BIN)/python -m pytest -q -p no:cacheprovider $(OLDEST_TESTS)

# The oldest-versions tier first (CPU-bound, a couple of minutes), then both passes at once: most of a
# pass is waiting on poll intervals and real servers, not CPU.
# Each line is tagged with its pass; the target fails if either pass fails.
test: system-deps axe lint test-oldest partner-systems
	@( $(MAKE) --no-print-directory test-sqlite 2>&1 | sed -u 's/^/[sqlite] /'; exit $${PIPESTATUS[0]} ) & sqlite=$$!; \
	( $(MAKE) --no-print-directory test-postgres 2>&1 | sed -u 's/^/[postgres] /'; exit $${PIPESTATUS[0]} ) & postgres=$$!; \
	wait $$sqlite; sqlite_rc=$$?; wait $$postgres; postgres_rc=$$?; \
	echo "make test: SQLite pass exit $$sqlite_rc, PostgreSQL pass exit $$postgres_rc"; \
	test $$sqlite_rc -eq 0 && test $$postgres_rc -eq 0

# The benchmarks (bench/): benchmark 1 (capture, throughput) on SQLite and PostgreSQL, the rest on
# PostgreSQL. Each prints its figures, its ratio and target, met or missed, and appends them to
# BENCHMARKS.md. bench-quick: the same figures at a tenth of the size, for a development loop.
bench bench-quick: venv
	@$(BIN)/python -c "import psycopg; psycopg.connect('$(subst +psycopg,,$(PG_URL))/postgres', connect_timeout=5).close()" \
	  || { echo "PostgreSQL is not reachable at $(PG_URL): start it (pg_ctlcluster ... start) and run make $@ again" >&2; exit 1; }
	$(BIN)/python -m bench --postgres $(PG_URL) $(if $(filter bench-quick,$@),--quick)

demo: venv
	$(BIN)/python -m examples.helpdesk.demo --dir $(DEMO_DIR) --ports '$(DEMO_PORTS)' $(if $(filter postgres,$(DB)),--postgres $(PG_URL))

clean:
	rm -rf $(VENV) $(OLDEST_VENV) var build dist *.egg-info tests/pages/node_modules
