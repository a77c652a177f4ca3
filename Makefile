# distillwatch developer commands. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test unit lint typecheck bench clean venv stack secrets dashboards

$(VENV)/.installed: pyproject.toml constraints.txt native/Cargo.toml native/Cargo.lock $(wildcard native/src/*.rs)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	# The adapters' compiled fast path (native/README.md), where Rust is installed (rustup puts
	# cargo in ~/.cargo/bin); without it the Python adapters do all the mapping
	export PATH="$(HOME)/.cargo/bin:$$PATH"; if command -v cargo >/dev/null; then \
	  $(PY) -m pip install -q ./native; \
	else \
	  echo "cargo not found: the gateway adapters run without their compiled fast path"; \
	fi
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

## The compose topology as local processes (no Docker): Kafka, Redis, Alertmanager, workers,
## dispatcher, Prometheus, Grafana if installed, simulated traffic. Ctrl-C stops it.
stack: venv
	$(PY) scripts/stack.py $(STACK_ARGS)

## Random passwords for docker-compose.yml's secrets (kept if present; git-ignored).
secrets:
	# The folder is private; the files are world-readable because Compose bind-mounts them
	# as they are, and the containers read them as their own non-root users.
	mkdir -p secrets && chmod 700 secrets
	for name in redis_password grafana_admin_password ingest_tokens; do \
	  test -s secrets/$$name || $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(24))' > secrets/$$name; \
	  chmod 644 secrets/$$name; \
	done

## Rebuild the Grafana dashboards' JSON and docs/dashboards.md from dashboards/*.py.
dashboards: venv
	$(PY) -m dashboards

bench: venv
	$(PY) bench/replay_throughput.py

clean:
	rm -rf $(VENV) $(OUT) .cache .pytest_cache .mypy_cache .ruff_cache
