# One command to set everything up and run the demo, one for the tests.
# Each creates .venv on first use and reinstalls when pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build, installed before the project so that pip never pulls a CUDA build.
TORCH_SPEC ?= torch==2.13.0
export SKLSTM_DATA ?= $(abspath ../shared/data)

.PHONY: install test lint docs demo bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[all,dev,docs]"
	touch $@

install: $(VENV)/.installed

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install lint
	$(PY) -m pytest -q

docs: install
	rm -rf docs/_build docs/generated docs/auto_examples
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "documentation: docs/_build/html/index.html"

demo: install
	$(PY) -m pipelines.demo

bench: install
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.tsc

clean:
	rm -rf $(VENV) build *.egg-info docs/_build docs/generated docs/auto_examples
