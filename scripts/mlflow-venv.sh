#!/usr/bin/env bash
# MLflow in a throw-away venv, never in the project's environment (it pins its own flask,
# sqlalchemy, pandas, ...): tests/e2e/test_mlflow_models.py saves models with
# mlflow.sklearn.save_model and serves them with `mlflow models serve` there, to compare
# with kaon serving the same folder (`kaon serve deploy --mlflow`). Idempotent; prints the
# python's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${KAON_MLFLOW_VENV:-$root/.tools/venvs/mlflow}"
uv="$(command -v uv 2>/dev/null || echo "$root/.tools/bin/uv")"
pins=("mlflow==3.17.2" "scikit-learn==1.9.1")
if ! "$venv/bin/python" -c "import mlflow.sklearn, sklearn" >/dev/null 2>&1; then
  rm -rf "$venv"
  "$uv" venv --quiet --python "${MLFLOW_VENV_PYTHON_VERSION:-3.11}" "$venv"
  "$uv" pip install --quiet --python "$venv/bin/python" "${pins[@]}"
fi
echo "$venv/bin/python"
