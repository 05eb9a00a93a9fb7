# kaon: two commands on a fresh machine.
#   make demo   the seeds' mnist walk-through: train, provenance, serve, predict, reproduce
#   make demo-e2e  seed 001's workflow end to end: six pipeline stages, a gated release, Seldon
#   make test   lint, types, layer contracts and the whole test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
# Bytecode: uv compiles every installed package once (uv sync, the seldon and mlflow venvs), and
# Python may write the .pyc of kaon's own modules: with PYTHONDONTWRITEBYTECODE set (some CI
# images do) every CLI call and server start would compile ray, sqlalchemy, ... again.
export UV_COMPILE_BYTECODE := 1
export PYTHONDONTWRITEBYTECODE :=

.PHONY: help setup system seldon-venv mlflow-venv test lint typecheck layers pytest demo demo-e2e demo-data demo-pipelines bench clean

help:
	@echo "make setup  - install the tools and the Python environment (uv, graphviz, bubblewrap, postgresql)"
	@echo "make demo   - set everything up and run the walk-through"
	@echo "make test   - set everything up and run lint, mypy, import contracts and pytest"
	@echo "make demo-e2e - seed 001 end to end: warehouse -> ... -> release, Seldon client, canary (< 3 min)"
	@echo "make demo-data - the data-repo walk-through of seed 004"
	@echo "make demo-pipelines - the pipelines walk-through (raw -> transform -> train -> evaluate)"
	@echo "make bench  - run the benchmarks (several minutes)"

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras
	@touch $@

# Graphviz draws provenance; bubblewrap sandboxes jobs (--sandbox); Debian's Chromium runs the
# web UI's browser tests (tests/e2e/ui, Playwright); PostgreSQL is the second
# metadata database the tests run on (tests/pgfixtures.py starts a throw-away server from
# /usr/lib/postgresql/*/bin). Debian packages, installed when missing and apt-get is usable;
# kaon works without them (--format dot|json, no sandbox, SQLite). Under CI=true a missing
# PostgreSQL fails the setup (its tests would otherwise not run).
system:
	@missing=""; command -v dot >/dev/null || missing="$$missing graphviz"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing"; \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null 2>&1)) || \
	     echo "warning: could not install$$missing (drawings/sandbox/PostgreSQL tests unavailable)"; \
	  else echo "note:$$missing not installed (apt-get as root needed)"; fi; \
	fi; \
	if [ "$$CI" = true ] && ! command -v chromium >/dev/null; then \
	  echo "error: Chromium is required under CI=true (the web UI's browser tests):" \
	       "apt-get install chromium (as root)"; exit 1; \
	fi; \
	if [ "$$CI" = true ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	   && [ -z "$$KAON_TEST_POSTGRES_URL" ]; then \
	  echo "error: PostgreSQL is required under CI=true: apt-get install postgresql (as root)" \
	       "or set KAON_TEST_POSTGRES_URL to a server's admin URL"; exit 1; \
	fi

# The real Seldon Core clients (1.0.2, seed 001's era, and 1.18.2, the newest) in throw-away
# venvs (.tools/venvs/seldon-core-VERSION, never in the
# project's environment): tests/e2e/test_seldon_client.py and the e2e demo use it. Outside CI
# a failed build (no network) only warns: that test then skips; under CI=true it fails.
seldon-venv: | $(UV)
	@PATH="$(dir $(UV)):$$PATH" bash scripts/seldon-venv.sh 1.0.2 >/dev/null && \
	  PATH="$(dir $(UV)):$$PATH" bash scripts/seldon-venv.sh 1.18.2 >/dev/null || { \
	  if [ "$$CI" = true ]; then echo "error: could not build the seldon-core venv"; exit 1; fi; \
	  echo "warning: could not build the seldon-core venv (the Seldon client test will skip)"; }

# MLflow in a throw-away venv (.tools/venvs/mlflow): tests/e2e/test_mlflow_models.py saves
# models with it and compares `mlflow models serve` with kaon serving them. As above.
mlflow-venv: | $(UV)
	@PATH="$(dir $(UV)):$$PATH" bash scripts/mlflow-venv.sh >/dev/null || { \
	  if [ "$$CI" = true ]; then echo "error: could not build the mlflow venv"; exit 1; fi; \
	  echo "warning: could not build the mlflow venv (the MLflow models test will skip)"; }

setup: .venv/.synced system seldon-venv mlflow-venv

lint: setup
	$(UV) run --frozen ruff check src tests benchmarks
	$(UV) run --frozen ruff format --check src tests benchmarks

typecheck: setup
	$(UV) run --frozen mypy src

layers: setup
	$(UV) run --frozen lint-imports

pytest: setup
	$(UV) run --frozen pytest -q -n 2 --dist loadfile --no-loadscope-reorder

test: lint typecheck layers pytest

demo: setup
	$(UV) run --frozen bash scripts/demo.sh
	$(UV) run --frozen bash scripts/demo-pipelines.sh

demo-e2e: setup
	$(UV) run --frozen bash scripts/demo-e2e.sh

demo-data: setup
	$(UV) run --frozen bash scripts/demo-data.sh

demo-pipelines: setup
	$(UV) run --frozen bash scripts/demo-pipelines.sh

bench: setup
	$(UV) run --frozen python benchmarks/ingest.py
	$(UV) run --frozen python benchmarks/train.py
	$(UV) run --frozen python benchmarks/serve.py
	$(UV) run --frozen python benchmarks/provenance.py
	$(UV) run --frozen python benchmarks/probe.py
	$(UV) run --frozen python benchmarks/startup.py

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache .kaon-demo .kaon-demo-data .kaon-demo-pipelines .kaon-demo-e2e
