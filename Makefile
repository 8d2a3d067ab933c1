# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# compile the scheduling kernels once (numba, ~20 s; cached next to the modules)
	$(BIN)/python -c "from microfactory.planning.warmup import warm_all; warm_all()"
	touch $(STAMP)

venv: $(STAMP)

## Build the demo factory, run the closed loop for simulated days, print the summary, then
## serve the dashboard on http://127.0.0.1:8000 (Ctrl-C to stop). `make demo DEMO_ARGS="--days 7"`.
DEMO_ARGS ?=
demo: $(STAMP)
	$(BIN)/microfactory demo --serve $(DEMO_ARGS)

## The whole quality gate: lint, format, types, tests (SQLite, PostgreSQL, MQTT, browser).
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src
	bash scripts/ensure-test-services.sh
	$(BIN)/python -m pytest -W error -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src

unit: $(STAMP)
	$(BIN)/python -m pytest -W error -q

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache microfactory.db*
