# Two commands for a fresh machine: `make run` and `make test`.
# Needs: Python >= 3.11 with venv; on Debian as root, missing system packages (bubblewrap for the
# grading sandbox, chromium for browser tests and packet PDFs) are installed, elsewhere you are told what to install.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
FLASK := $(BIN)/flask --app app

.PHONY: run test test-fast lint install install-test sandbox init serve clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[postgres,redis]'
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	@touch $@ $(VENV)/.installed

# The hiring packet's PDF is printed by Debian's Chromium (assessments/pdf.py): installed here when
# it can be; without it the packet is a printable page and its PDF link says Chromium is missing.
install: $(VENV)/.installed
	@sh ops/require-system-packages.sh /usr/bin/chromium:chromium || echo "Continuing without Chromium: hiring packets are HTML only."
install-test: $(VENV)/.installed-test
	@sh ops/require-system-packages.sh /usr/bin/chromium:chromium

sandbox: $(VENV)/.installed
	@sh ops/require-system-packages.sh bwrap:bubblewrap prlimit:util-linux setpriv:util-linux /usr/bin/python3:python3
	@/usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null || sh ops/require-system-packages.sh /nonexistent-venv:python3-venv
	$(BIN)/python -m assessments.grading.runtime build
	@$(BIN)/python -m assessments.grading.sandbox check

init: install
	$(FLASK) init

run: install sandbox init
	$(FLASK) seed-demo --base-url http://$(HOST):$(PORT)
	@echo "Serving on http://$(HOST):$(PORT)/ with a grading worker (sign in with a demo account above; Ctrl-C stops both)."
	@rm -rf instance/prometheus && mkdir -p instance/prometheus
	@export PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/instance/prometheus; \
	  $(FLASK) worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/gunicorn -c python:assessments.gunicorn_conf --bind $(HOST):$(PORT) --workers 2 app:app

test: install-test sandbox init lint
	$(BIN)/pytest

# The inner loop: no sandbox, no browser, no notebook execution (the whole suite is `make test`).
test-fast: install-test
	$(BIN)/pytest -q -m "not sandbox and not browser and not notebook"

# Lint, format and the architecture's import contracts (docs/architecture.md, pyproject.toml).
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) .sandbox-venv
	@echo "As root the sandbox runtime lives in /var/lib/assessments (shared by checkouts): remove it there if you want it gone."
