# The two commands of README.md. `make run` and `make test` create .venv on first use.
VENV ?= .venv
RESULTS_DIR ?= results
PY := $(VENV)/bin/python

.PHONY: run test venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# The main job on embedded data: the smoke suite, its table printed at the end.
run: venv
	$(VENV)/bin/bench run --suite smoke --results-dir $(RESULTS_DIR)

# All tests.
test: venv
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
