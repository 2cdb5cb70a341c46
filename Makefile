# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
# Both create the virtual environment (.venv) on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install run test check format bench bench-admin bench-index bench-watches soak

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m app serve --demo

test: install
	$(PY) -m pytest

check: install
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m mypy

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: install
	$(PY) -m bench

bench-admin: install
	$(PY) -m bench.admin_pages

# The in-memory search index (issue 15): CPU per search by territory size, national memory.
bench-index: install
	$(PY) -m bench.index_scale

# The watch notification latency under 200 open watches (issue 17), its own step.
bench-watches: install
	$(PY) -m bench.watches

# The 10-minute soak of issue 16 (CI runs the same test for 2 minutes, SOAK_SECONDS=120).
soak: install
	SOAK_SECONDS=600 $(PY) -m pytest tests/concurrency/test_soak.py -q
