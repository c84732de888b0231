# sipref — the front door.  Every target creates .venv when it is missing.
#
#   make test         the whole test suite (what CI runs)
#   make check        ruff check, ruff format --check, python -m annotate check
#   make docs         the Sphinx site in docs/_build/html (warnings are errors)
#   make serve        serve the built site on http://127.0.0.1:8000
#   make bench        benchmarks; figures go to docs/_data/bench/*.json
#   make fuzz         the whole suite with SIPREF_FUZZ=1: long property-based and
#                     fuzz runs (thousands of examples), full conformance waves
#   make report       annotation coverage report (text + JSON)
#   make verify       break the code each requirement cites, check a cited test fails
#                     (VERIFY_ARGS="--rfc 3261 --section 17" to narrow; cached in .cache/)
#   make conformance  run the conformance suite against our programs and SIPp;
#                     results go to docs/_data/conformance/ for the docs site

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

# The RFC texts: read from ../shared/rfcs when it is there, otherwise the
# spec store fetches them into .cache/rfcs on first use.
SHARED_RFCS := $(abspath ../shared/rfcs)
ifeq ($(origin SIPREF_SPEC_DIR), undefined)
  ifneq ($(wildcard $(SHARED_RFCS)/rfc3261.txt),)
    export SIPREF_SPEC_DIR := $(SHARED_RFCS)
  endif
endif
SHARED_CONFORMANCE := $(abspath ../shared/conformance)
ifeq ($(origin SIPREF_CONFORMANCE_DIR), undefined)
  export SIPREF_CONFORMANCE_DIR := $(SHARED_CONFORMANCE)
endif

STAMP := $(VENV)/.installed

.PHONY: venv test check lint docs serve bench fuzz report verify conformance clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test,docs,browser,bench,postgresql]'
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q --durations=15 $(PYTEST_ARGS)

check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m annotate check --snapshot --strict

lint: check

docs: $(STAMP)
	$(PY) -m annotate report --json docs/_data/coverage.json --quiet
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

serve: docs
	$(PY) -m http.server --bind 127.0.0.1 --directory docs/_build/html 8000

report: $(STAMP)
	$(PY) -m annotate report

VERIFY_ARGS ?=
verify: $(STAMP)
	$(PY) -m annotate verify -j 2 --update-snapshot $(VERIFY_ARGS)

bench: $(STAMP)
	$(PY) -m rfc3261.bench

fuzz: $(STAMP)
	SIPREF_FUZZ=1 $(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

conformance: $(STAMP)
	$(PY) -m conformance.selftest --out docs/_data/conformance

clean:
	rm -rf docs/_build docs/_generated docs/_data .pytest_cache .hypothesis .ruff_cache
