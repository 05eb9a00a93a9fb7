#!/usr/bin/env bash
# The data walk-through of seed 004 (pachctl -> kaon), on a private platform in .kaon-demo-data.
set -euo pipefail
cd "$(dirname "$0")/.."
export KAON_HOME="$PWD/.kaon-demo-data"
export KAON_PORT=0
kaon down >/dev/null 2>&1 || true
rm -rf "$KAON_HOME"
trap 'kaon down >/dev/null 2>&1 || true' EXIT
work=$(mktemp -d)
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
say() { printf '\n# %s\n' "$*"; }

python3 - "$work" <<'PY'
import os, sys, zipfile
work = sys.argv[1]
# a stand-in for mnist.npz (the seed downloads it; this machine has no internet)
with zipfile.ZipFile(os.path.join(work, "mnist.npz"), "w") as z:
    for name in ("x_train.npy", "y_train.npy", "x_test.npy", "y_test.npy"):
        z.writestr(name, os.urandom(2_800_000))
feat = os.path.join(work, "features", "train")
os.makedirs(feat)
for i in range(2000):
    with open(os.path.join(feat, f"row_{i:05d}.csv"), "w") as f:
        f.write(",".join(str((i * 7 + j) % 255) for j in range(64)) + "\n")
PY

step kaon up
step kaon repo create inputrepo
step kaon repo create outputrepo
step kaon put file inputrepo@master:/data/mnist.npz -f "$work/mnist.npz"
step kaon list file inputrepo@master:/data/
step kaon create branch outputrepo@master
step kaon put file inputrepo@master:/data/mnist.npz -f "$work/mnist.npz" -m "new batch of handwriting data"
step kaon list commit inputrepo@master
step kaon list file inputrepo@master --history 1
step kaon put file inputrepo@master:/features -f "$work/features" -r -m "2,000 feature files, one commit"
step kaon list file inputrepo@master
step kaon get file inputrepo@master:/data/mnist.npz -o "$work/out.npz"
cmp "$work/out.npz" "$work/mnist.npz" && echo "round trip: identical bytes"
step kaon delete file inputrepo@master:/features/train/row_00000.csv
step kaon diff file inputrepo@master inputrepo@master^
step kaon inspect commit inputrepo@master^
step kaon list repo
say "the same bytes in another repo are stored once: 0B new"
step kaon repo create scratch
step kaon put file scratch@master:/tmp.bin -f "$work/mnist.npz"
step kaon put file scratch@master:/other.bin -f "$work/features/train/row_00001.csv"
say "deleting a repo leaves its objects to gc, which keeps what inputrepo still uses"
step kaon repo delete scratch
step kaon gc
rm -rf "$work"
printf '\nDone. The platform lived in %s; `make demo` starts from scratch each time.\n' "$KAON_HOME"
