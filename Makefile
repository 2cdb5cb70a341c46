PYTHON ?= python

.PHONY: install check format test bench serve

install:
	$(PYTHON) -m pip install -e '.[dev]'

check:
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m ruff check .
	$(PYTHON) -m mypy

format:
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .

test:
	$(PYTHON) -m pytest

serve:
	$(PYTHON) -m app serve

bench:
	$(PYTHON) -m bench
