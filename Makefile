# The two commands of README.md. `make run` and `make test` create .venv on first use.
VENV ?= .venv
RESULTS_DIR ?= results
PY := $(VENV)/bin/python

.PHONY: run test test-fast check expected venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# The main job on embedded data: the smoke suite, its table printed at the end.
run: venv
	$(VENV)/bin/bench run --suite smoke --results-dir $(RESULTS_DIR)

# The smoke numbers in RESULTS_DIR against the committed ones (results/smoke/expected.json),
# within per-metric tolerances; a readable diff and exit 1 when a number moved. What CI runs.
check: venv
	$(VENV)/bin/bench table --suite smoke --check --results-dir $(RESULTS_DIR) --against results/smoke/expected.json

# Regenerate the committed smoke results (records, expected numbers, report page) after an
# intended change; commit results/ afterwards.
expected: venv
	$(VENV)/bin/bench run --suite smoke --force --format none
	$(VENV)/bin/bench table --suite smoke --write-expected
	$(VENV)/bin/bench report --suite smoke

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
