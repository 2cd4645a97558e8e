# connector-harness: `make certify` certifies the example connector; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
# `make test` spreads the suite over xdist workers, four per core: most of its time is spent waiting
# (child certifications, RES-05's 30 s stalls, Retry-After waits, time limits, fuzz budgets): one
# worker per core left the cores 40% idle, and two per core still used 1.2 of 2 cores in CI
# (565 CPU s in 466 s). Verdicts are judged on the sandbox's timeline, so the load does not move them. Work stealing (not loadfile) lets an idle worker take
# tests from a busy one, so no single file (the catalogue, the fuzz campaigns) is the critical path;
# tests/conftest.py sends the long tests first. Module- and session-scoped fixtures start once per
# worker that runs one of their tests. Prints the 30 slowest tests, so CI shows where time goes.
TEST_WORKERS ?= $(shell echo $$(( 4 * $$(nproc 2>/dev/null || echo 1) )))
# Tests start a child pytest for every certification; each would compile the package (and pytest
# would re-rewrite its asserts) from source again where the environment sets
# PYTHONDONTWRITEBYTECODE, as this machine's does: about 2 CPU s a child. Caching bytecode halves it.
unexport PYTHONDONTWRITEBYTECODE
# `make check`'s tests: tests/unit less the files that start servers, browsers or subprocess
# certifications, or fuzz a whole contract (those stay in `make test`).
SLOW_UNIT := sandbox_conformance first_hour report_browser cli_image cli_serve contract_real_specs \
             real_contracts command_driver
FAST_TESTS ?= tests/unit $(foreach f,$(SLOW_UNIT),--ignore=tests/unit/test_$(f).py)

.PHONY: help venv test check typecheck certify lint bench matrix clean-matrix verdicts-under-load fidelity detection clean

help:
	@echo "make certify  certify examples/acme_sync on the embedded sandbox (writes cert.json)"
	@echo "make test     create .venv if missing and run the whole test suite"
	@echo "make check    lint + typecheck + the fast unit tests (under a minute)"
	@echo "make lint     ruff"
	@echo "make typecheck mypy over harness/ (settings in pyproject.toml)"
	@echo "make bench    run the benchmarks in bench/ (prints numbers, asserts nothing; fidelity and detection have their own targets)"
	@echo "make matrix   every flawed connector against the whole catalogue (slow)"
	@echo "make clean-matrix  every clean connector, strict, seeds 1-3: fails on a failure not in false_verdicts.toml (slow)"
	@echo "make verdicts-under-load  the clean connectors certify idle (seed 2) and beside one busy process per core (seed 3); CI runs it"
	@echo "make fidelity schemathesis --checks all against the sandbox on 40 real published specs (slow; FIDELITY_ARGS=...)"
	@echo "make detection how often RES-04, INT-05 and WH-04 catch their flawed connectors, seeds 1-30 (slow; DETECTION_ARGS=...)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal --durations=30 $(PYTEST_ARGS)

certify: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider --connector=examples/acme_sync --cert-level=strict --cert-report=cert.json $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check harness tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy harness

check: lint typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider $(FAST_TESTS)

matrix: $(STAMP)
	$(BIN)/python tests/connectors/matrix.py

clean-matrix: $(STAMP)
	$(BIN)/python tests/connectors/clean_matrix.py 1 2 3

# CI's proof that verdicts do not depend on machine load: the clean connectors certify on a quiet
# machine and with one busy process per core beside them (seed 1 runs inside `make test`).
verdicts-under-load: $(STAMP)
	$(BIN)/python tests/connectors/clean_matrix.py 2
	$(BIN)/python tests/connectors/clean_matrix.py --load 3

bench: $(STAMP)
	@for b in bench/*.py; do case $$b in */corpus.py|*/fidelity.py|*/stripe_suite.py|*/detection.py) continue;; esac; \
	  echo "== $$b"; $(BIN)/python $$b || exit 1; done

fidelity: $(STAMP)
	$(BIN)/python bench/fidelity.py $(FIDELITY_ARGS)
	$(BIN)/python bench/stripe_suite.py

# About 100 child certifications, two at a time: 15-30 minutes on a shared 2-core machine.
DETECTION_ARGS ?= 30 --model 1000
detection: $(STAMP)
	$(BIN)/python bench/detection.py $(DETECTION_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build wheelhouse *.egg-info cert.json
