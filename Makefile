# The two commands of the README: `make demo` (main job on the bundled sample) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_FLAGS ?= -q --disable-pip-version-check
# pytest workers: 2 cores on CI machines
JOBS ?= 2

.PHONY: demo test lint typecheck pytest install clean sample docs

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev]'
	touch $(BIN)/activate

install: $(BIN)/activate

demo: install
	$(BIN)/welfare demo -o reports/demo

lint: install
	$(BIN)/ruff check welfare tests bench

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile

test: lint typecheck pytest

# Regenerate the bundled synthetic sample (byte-identical for the same simulator version and seed).
sample: install
	$(BIN)/welfare simulate --config configs/sample.yaml -o data/sample/simulated.jsonl.gz

# Regenerate the generated docs: metric cards (registry) and the validation report (needs ../shared/data).
docs: install
	$(BIN)/python -m welfare.metrics._cards
	$(BIN)/python bench/validate.py

clean:
	rm -rf $(VENV) reports .pytest_cache .mypy_cache .ruff_cache
