# kaon: two commands on a fresh machine.
#   make demo   the walk-through (data repos now; the seeds' mnist flow as the issues land)
#   make test   lint, types, layer contracts and the whole test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
export UV_LINK_MODE := copy

.PHONY: help setup test lint typecheck layers pytest demo bench clean

help:
	@echo "make demo   - set everything up and run the walk-through"
	@echo "make test   - set everything up and run lint, mypy, import contracts and pytest"
	@echo "make bench  - run benchmarks/ingest.py (several minutes)"

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

setup: .venv/.synced

lint: setup
	$(UV) run --frozen ruff check src tests benchmarks
	$(UV) run --frozen ruff format --check src tests benchmarks

typecheck: setup
	$(UV) run --frozen mypy src

layers: setup
	$(UV) run --frozen lint-imports

pytest: setup
	$(UV) run --frozen pytest -q -n 2 --dist loadfile

test: lint typecheck layers pytest

demo: setup
	$(UV) run --frozen bash scripts/demo.sh

bench: setup
	$(UV) run --frozen python benchmarks/ingest.py

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache .kaon-demo
