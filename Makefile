# distillwatch developer commands. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test unit lint typecheck bench clean venv

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

## Simulate a little traffic and replay it in-process (no Kafka, no Docker): prints the alerts.
demo: venv
	mkdir -p $(OUT)
	$(VENV)/bin/distillwatch simulate --scenario all --hours 12 --accounts 60 --out $(OUT)/demo-events.jsonl --labels $(OUT)/demo-labels.csv
	$(VENV)/bin/distillwatch backtest $(OUT)/demo-events.jsonl --labels $(OUT)/demo-labels.csv --alerts-out $(OUT)/demo-alerts.jsonl --json $(OUT)/demo-summary.json --report $(OUT)/demo-report.html
	@echo "demo outputs: $(OUT)/demo-report.html (open in a browser), $(OUT)/demo-alerts.jsonl, $(OUT)/demo-summary.json"

## Lint, type-check, then every test against real Redis and Kafka (started here if absent).
test: venv lint typecheck
	$(PY) scripts/testenv.py -- $(PY) -m pytest -q -ra $(PYTEST_ARGS)

unit: venv
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

typecheck: venv
	$(VENV)/bin/mypy

bench: venv
	$(PY) bench/replay_throughput.py

clean:
	rm -rf $(VENV) $(OUT) .cache .pytest_cache .mypy_cache .ruff_cache
