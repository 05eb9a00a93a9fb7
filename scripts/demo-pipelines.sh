#!/usr/bin/env bash
# The pipelines walk-through (issue 15, seed 001's shape): raw CSVs -> transform -> train ->
# evaluate, on a private platform in .kaon-demo-pipelines. Fails if an expected outcome does not
# happen (counts checked from --json).
set -euo pipefail
cd "$(dirname "$0")/.."
export KAON_HOME="$PWD/.kaon-demo-pipelines"
export KAON_PORT=0
kaon down >/dev/null 2>&1 || true
rm -rf "$KAON_HOME"
work=$(mktemp -d)
trap 'kaon down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
say() { printf '\n# %s\n' "$*"; }
# check 'python expression over j (the JSON document on stdin)' 'what it means'
check() {
    python3 -c 'import json, sys
j = json.load(sys.stdin)
if not eval(sys.argv[1]):
    sys.exit(f"demo-pipelines: FAILED: {sys.argv[2]} ({sys.argv[1]})")
print(f"ok: {sys.argv[2]}")' "$1" "$2"
}
job_of() { kaon list job -p "$1" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])'; }

step kaon up
cd "$work"
step kaon template get --name pipelines
cd templates/pipelines
step cat specs.yaml
step kaon repo create raw
step kaon repo create params
step kaon repo create holdout
step kaon put file params@master:/hp.json -f data/params/hp.json
step kaon put file holdout@master:/ -f data/holdout -r
step kaon create pipeline -f specs.yaml
say "one commit of four CSV files sets off a job in every stage, all with the commit's id"
step kaon put file raw@master:/ -f data/raw -r -m "four raw files"
raw1=$(kaon list commit raw@master --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
step kaon wait commit evaluate@master --timeout 5m
step kaon list pipeline
step kaon list job
step kaon list job "$raw1"
kaon list job "$raw1" --json | check \
    'sorted(x["pipeline"] for x in j) == ["evaluate", "train", "transform"] and all(x["state"] == "JOB_SUCCESS" for x in j)' \
    "the global id $raw1 links the three jobs, all successful"
step kaon inspect job "transform@$raw1" --json
kaon inspect job "transform@$raw1" --json | check \
    'j["counts"]["processed"] == 4 and j["counts"]["total"] == 4' "transform processed its 4 datums"
step kaon list datum "transform@$raw1"
step kaon logs --job "transform@$raw1"
step kaon logs --job "train@$raw1"
step kaon get file evaluate@master:/metrics.json
say "one more file: only its datum runs, the other four are skipped (outputs reused)"
step kaon put file raw@master:/part-05.csv -f data/more/part-05.csv -m "one more file"
step kaon wait commit evaluate@master --timeout 5m
step kaon list job -p transform
step kaon inspect job "transform@$(job_of transform)" --json
kaon inspect job "transform@$(job_of transform)" --json | check \
    'j["counts"]["processed"] == 1 and j["counts"]["skipped"] == 4 and j["state"] == "JOB_SUCCESS"' \
    "the incremental job processed 1 datum and skipped 4"
step kaon get file evaluate@master:/metrics.json -o "$work/metrics-1.json"
cat "$work/metrics-1.json"

say "a new spec (MAX_ABS 1000 -> 100 drops the +300 glitches): version 2, every datum runs again"
sed -i 's/MAX_ABS: "1000"/MAX_ABS: "100"/' specs.yaml
step kaon update pipeline -f specs.yaml
step kaon wait commit evaluate@master --timeout 5m
step kaon list pipeline
kaon inspect pipeline transform --json | check 'j["version"] == 2' "transform is at version 2"
step kaon list job -p transform
kaon inspect job "transform@$(job_of transform)" --json | check \
    'j["counts"]["processed"] == 5 and j["counts"]["skipped"] == 0 and j["state"] == "JOB_SUCCESS"' \
    "version 2 reprocessed all 5 datums"
step kaon get file evaluate@master:/metrics.json -o "$work/metrics-2.json"
cat "$work/metrics-2.json"
python3 - "$work/metrics-1.json" "$work/metrics-2.json" <<'PY'
import json, sys
one, two = (json.load(open(p)) for p in sys.argv[1:])
if not two["rmse"] < 1.0 < one["rmse"] or two["trained_on"] >= one["trained_on"]:
    sys.exit(f"demo-pipelines: FAILED: cleaner data should lower the rmse ({one} -> {two})")
print(f"ok: rmse {one['rmse']} -> {two['rmse']} once the glitches are dropped")
PY

say "provenance: what the first raw commit led to, through every stage"
step kaon data subvenance "raw@$raw1"
step kaon inspect commit evaluate@master
step kaon get file train@master:/hp.json -o "$work/hp.json"
cmp "$work/hp.json" data/params/hp.json && echo "train@master:/hp.json is params' file (a reference)"
printf '\nDone. The platform lived in %s; `make demo-pipelines` starts from scratch each time.\n' "$KAON_HOME"
