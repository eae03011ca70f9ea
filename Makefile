# The two commands of README.md. `make run` and `make test` create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test test-fast check check-pages expected venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# The main job on embedded data: the smoke suite run fresh (--force: every run executes, with
# progress) into a scratch results folder that git ignores, its table printed, then one line
# comparing its numbers with the committed ones (results/smoke/expected.json); exit 1 when a
# number moved. RUN_DIR=DIR puts the fresh records elsewhere (CI: a new temporary folder).
RUN_DIR ?= scratch/results
run: venv
	$(VENV)/bin/bench run --suite smoke --force --results-dir $(RUN_DIR)
	$(VENV)/bin/bench table --suite smoke --check --results-dir $(RUN_DIR) --against results/smoke/expected.json

# The smoke numbers in RUN_DIR against the committed ones (results/smoke/expected.json), within
# per-metric tolerances: one line when all reproduce, else a readable diff and exit 1.
check: venv
	$(VENV)/bin/bench table --suite smoke --check --results-dir $(RUN_DIR) --against results/smoke/expected.json

# Every committed page (results/*/README.md and table.md, results/vision/*) against what
# `bench report` renders from the committed records (a test runs the same check).
check-pages: venv
	$(VENV)/bin/bench report --check --results-dir results
	$(VENV)/bin/bench report --check --results-dir results/vision

# Regenerate the committed smoke results (records, expected numbers, README.md and table.md)
# after an intended change; commit results/ afterwards.
expected: venv
	$(VENV)/bin/bench run --suite smoke --force --format none --results-dir results
	$(VENV)/bin/bench table --suite smoke --write-expected --results-dir results
	$(VENV)/bin/bench report --suite smoke --html --results-dir results

# All tests, one worker per core (pytest-xdist). Each test file runs whole on one worker (its
# module fixtures are built once); tests that share a resource across files (Ray) carry one
# xdist_group and run one after another (tests/conftest.py). TEST_WORKERS=0: no workers.
TEST_WORKERS ?= auto
PYTEST := $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

test: venv
	$(PYTEST)

# The quick loop while editing: every test but those marked slow (pyproject.toml's markers).
test-fast: venv
	$(PYTEST) -m "not slow"

clean:
	rm -rf $(VENV) .pytest_cache
