# The two set-up commands of the README:
#   make serve   installs moorage into .venv and runs the server with the example
#                iris model deployed as endpoint "iris"
#   make test    installs the development tools and runs every check
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

EXAMPLE := examples/sklearn/build/model.tar.gz

$(EXAMPLE): $(STAMP) examples/sklearn/build.py examples/sklearn/code/inference.py
	$(BIN)/python examples/sklearn/build.py

serve: $(STAMP) $(EXAMPLE)
	$(BIN)/moorage serve --deploy iris=$(EXAMPLE) $(SERVE_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy --strict src/moorage

unit: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: lint typecheck unit

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
