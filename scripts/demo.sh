#!/usr/bin/env bash
# Seed 000's walk-through, end to end on a private platform in .kaon-demo: workspace, template,
# training, its artifacts and provenance, an endpoint, a prediction, and a bit-for-bit re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
export KAON_HOME="$PWD/.kaon-demo"
export KAON_PORT=0
unset PYTHONDONTWRITEBYTECODE KAON_WORKSPACE KAON_ENDPOINT KAON_TOKEN
kaon down >/dev/null 2>&1 || true
rm -rf "$KAON_HOME"
mkdir -p "$KAON_HOME"
trap 'kaon down >/dev/null 2>&1 || true' EXIT
cd "$KAON_HOME"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
say() { printf '\n\033[36m# %s\033[0m\n' "$*"; }
fmt=pdf
command -v dot >/dev/null || { fmt=dot; echo "(Graphviz is not installed: drawings are written as .dot files)"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {'d': d}))" "$1"; }

say "A private platform (SQLite + a local content-addressed store) in $KAON_HOME"
step kaon up
step kaon workspace create -n mnist
step kaon template list
step kaon template get --name mnist

say "Train: code + data -> an environment built by uv from requirements.txt -> a versioned model"
step kaon train deploy -s templates/mnist/model-train -d templates/mnist/data
say "Waiting for the job (kaon train list) ..."
for _ in $(seq 1 600); do
  state=$(kaon train list --json | field 'd[0]["state"]')
  case "$state" in JOB_SUCCESS|JOB_FAILURE|JOB_KILLED) break ;; esac
  sleep 1
done
step kaon train list
[ "$state" = JOB_SUCCESS ] || { kaon train build-logs -i 0; kaon train logs -i 0; exit 1; }
step kaon train info -i 0 -s accuracy_test
step kaon train logs -i 0
model=$(kaon train info -i 0 --json | field 'd["trials"][0]["model_id"]')
job=$(kaon train info -i 0 --json | field 'd["id"]')

say "Everything the job used and made, as kaos lays it out"
step kaon train get -i 0 -c -d -m
find "mnist/$job" -maxdepth 4 | sort | sed 's/^/  /'

say "Provenance of the model: a text tree here, a drawing in mnist/provenance/"
step kaon train provenance -m "$model" --format "$fmt"

say "Serve the model: the serve bundle gets the model files beside its model.py"
step kaon serve deploy -s templates/mnist/model-serve -m "$model" --wait
step kaon serve list
endpoint=$(kaon serve list --json | field 'd[0]["name"]')
url=$(kaon serve list --json | field 'd[0]["url"]')
step kaon serve predict -e "$endpoint" -f templates/mnist/test_payload.jpg
say "The same over plain HTTP, as curl sees it:"
step curl -s -X POST "http://$url" --data-binary @templates/mnist/test_payload.jpg
echo
step kaon serve provenance -e "$endpoint" --format "$fmt"

say "Reproduce the training job from its recorded inputs and compare every output file"
step kaon train reproduce -i 0 --verify

say "Drawings:"
find "$KAON_HOME/mnist/provenance" -type f | sed 's/^/  /'
say "Done. Everything lives in $KAON_HOME (the platform is stopped on exit)."
