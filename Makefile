# The two set-up commands of the README:
#   make serve   installs moorage with its runtime dependencies only (and scikit-learn,
#                which the example model needs) into .venv, then runs the server with
#                the example iris model deployed as endpoint "iris"
#   make test    also installs the development tools and runs every check
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check --no-compile
SERVE_STAMP := $(VENV)/.installed-serve
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: serve test lint typecheck unit bench clean

$(BIN)/python:
	@echo "==> creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)

$(SERVE_STAMP): pyproject.toml | $(BIN)/python
	@echo "==> installing moorage and its runtime dependencies into $(VENV)"
	$(PIP) -e ".[example]"
	touch $@

$(DEV_STAMP): pyproject.toml $(SERVE_STAMP)
	@echo "==> installing the development tools into $(VENV)"
	$(PIP) -e ".[example,dev,ray]"
	touch $@

EXAMPLE := examples/sklearn/build/model.tar.gz

$(EXAMPLE): $(SERVE_STAMP) examples/sklearn/build.py examples/sklearn/code/inference.py
	@echo "==> training the example iris model"
	$(BIN)/python examples/sklearn/build.py

serve: $(SERVE_STAMP) $(EXAMPLE)
	@echo "==> starting moorage (Ctrl-C stops it)"
	$(BIN)/moorage serve --deploy iris=$(EXAMPLE) $(SERVE_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: $(DEV_STAMP)
	$(BIN)/mypy --strict src/moorage

# Two workers, each taking whole test files: most tests wait on servers and
# model servers starting, so two run in about half the time on two cores. The
# Ray fleet's tests share one local Ray cluster and run on their own after.
PYTEST_WORKERS ?= 2

unit: $(DEV_STAMP)
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile --ignore=tests/ray_fleet $(PYTEST_ARGS)
	$(BIN)/pytest -q tests/ray_fleet $(PYTEST_ARGS)

test: lint typecheck unit

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
