# Contain — every set-up step lives here, so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: install check test lint demo package bench chaos lock clean sandbox screenshots

install: $(STAMP) $(NODE_STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The fast tiers while you work: unit and scenario tests (everything not marked slow, see
# tests/conftest.py) on four pytest-xdist workers, whole test files per worker. Most of a scenario
# test is waiting on loopback, so four workers keep two cores busy.
check: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not slow" -n 4 --dist loadfile

# Everything, one test at a time: the slow tier too (Playground, PostgreSQL, races, bursts).
test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

demo: install
	$(BIN)/python -m bench.demo

package: install
	$(BIN)/contain package

bench: install
	$(BIN)/python bench/investigate.py
	$(BIN)/python bench/contain.py
	$(BIN)/python bench/bot.py
	$(BIN)/python bench/alerts_http.py

# Re-renders docs/screenshots with Debian's Chromium (installed here when missing; never a downloaded browser).
screenshots: install
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(BIN)/python bench/screenshots.py

chaos: install
	$(BIN)/python bench/chaos.py

# Regenerates the exact versions from the ranges in pyproject.toml (needs network to PyPI).
lock:
	$(PYTHON) -m pip install --quiet uv
	$(PYTHON) -m uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

sandbox: install
	$(BIN)/contain sandbox serve

clean:
	rm -rf $(VENV) node_modules .contain
