#!/usr/bin/env bash
# The real Seldon Core client (PyPI seldon-core==1.18.2) in a throw-away venv, never in the
# project's environment (it pins protobuf 3.20 and flask 2.2): tests/e2e/test_seldon_client.py
# and `make demo-e2e` run client scripts with its python. Idempotent; prints the python's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${KAON_SELDON_VENV:-$root/.tools/venvs/seldon-core}"
uv="$(command -v uv 2>/dev/null || echo "$root/.tools/bin/uv")"
if ! "$venv/bin/python" -c "import seldon_core.seldon_client" >/dev/null 2>&1; then
  rm -rf "$venv"
  "$uv" venv --quiet --python "${SELDON_VENV_PYTHON_VERSION:-3.11}" "$venv"  # 1.18.2 supports up to 3.11
  "$uv" pip install --quiet --python "$venv/bin/python" "seldon-core==1.18.2"
fi
echo "$venv/bin/python"
