#!/usr/bin/env bash
# The real Seldon Core client (PyPI seldon-core) in a throw-away venv, never in the project's
# environment (it pins protobuf 3.20 and an old flask): tests/e2e/test_seldon_client.py and
# `make demo-e2e` run client scripts with its python. Idempotent; prints the python's path.
#
#   scripts/seldon-venv.sh [VERSION]     VERSION: 1.0.2 (default) or 1.18.2
#
# 1.0.2 is the client of seed 001's era: its SeldonClient answers protobuf messages, which
# seed 001's code relies on (seldon_message_to_json(r.response), feedback(prediction_request=
# r.request, ...)). Every later release answers dicts by default (client_return_type="dict",
# from 1.1.0 on), with which that same code fails inside the client before any request is sent.
# 1.0.2 installs on Python 3.11 with two pins of its own era's dependencies overridden
# (PyYAML 5.4 does not build with Cython 3; Jinja2 2.x imports soft_unicode, gone from
# MarkupSafe 2.1): PyYAML 6.0.1 and MarkupSafe 2.0.1. 1.18.2 is the newest release (3.11 is the
# newest Python it supports).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${1:-1.0.2}"
case "$version" in
  1.0.2) overrides=$'pyyaml==6.0.1\nmarkupsafe==2.0.1' ;;
  1.18.2) overrides="" ;;
  *) echo "seldon-venv.sh: unsupported seldon-core version $version (use 1.0.2 or 1.18.2)" >&2; exit 2 ;;
esac
venv="${KAON_SELDON_VENV:-$root/.tools/venvs/seldon-core-$version}"
uv="$(command -v uv 2>/dev/null || echo "$root/.tools/bin/uv")"
if ! "$venv/bin/python" -W ignore -c "import seldon_core.seldon_client" >/dev/null 2>&1; then
  rm -rf "$venv"
  "$uv" venv --quiet --python "${SELDON_VENV_PYTHON_VERSION:-3.11}" "$venv"
  args=()
  if [ -n "$overrides" ]; then
    printf '%s\n' "$overrides" > "$venv/overrides.txt"
    args=(--override "$venv/overrides.txt")
  fi
  "$uv" pip install --quiet --python "$venv/bin/python" "${args[@]}" "seldon-core==$version"
fi
echo "$venv/bin/python"
