"""release: the quality gate, then the SDK deploys (or updates) endpoint ENDPOINT with version
= the first 6 hex of the evaluate commit (seed 001: petset-<6 hex>).

Accuracy in /evaluation_result.csv must be above MIN_ACCURACY, else this exits non-zero
and serving stays as it was (the job fails with this message). The serve bundle is built
here: serve/model.py + serve/requirements.txt + the evaluated model.pkl. The first release
deploys the endpoint (100 % of the traffic); a later one updates it: with CANARY=N the new
version gets N % once ready (promote it with `kaon serve promote -e ENDPOINT`), CANARY empty
or 0 = a rolling update. /release.json records what was done.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import tempfile
from pathlib import Path

SERVE = Path(__file__).resolve().parent / "serve"


def metric(path: Path, name: str) -> float:
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["Metric Name"] == name:
                return float(row["Value"])
    raise SystemExit(f"release: {path.name} has no {name!r} row")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", type=Path, required=True, help="the evaluate stage's folder")
    parser.add_argument("--version", required=True, help="the evaluate commit (first 6 hex used)")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    name = os.environ.get("ENDPOINT", "petset")
    workspace = os.environ["WORKSPACE"]
    threshold = float(os.environ.get("MIN_ACCURACY", "0.95"))
    canary = int(os.environ.get("CANARY") or 0)
    accuracy = metric(args.input / "evaluation_result.csv", "Accuracy")
    if not accuracy > threshold:
        raise SystemExit(
            f"release: quality gate failed: Accuracy {accuracy:.4f} is not above MIN_ACCURACY "
            f"{threshold}: nothing deployed, {name} serves what it served"
        )
    version = args.version[:6]
    from kaon.client import AlreadyExists, Client, Conflict  # the platform gives jobs the SDK

    info = json.loads((args.input / "model.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / name
        shutil.copytree(SERVE, bundle, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copyfile(args.input / "model.pkl", bundle / "model.pkl")
        with Client.from_env() as client:
            try:
                endpoint = client.wait(
                    client.serve(workspace, source=bundle, name=name, version=version)
                )
                action = "deployed"
            except (Conflict, AlreadyExists):  # the endpoint exists: a new version of it
                print(f"release: endpoint {name} exists: updating it to version {version}")
                endpoint = client.update_endpoint(
                    name, source=bundle, canary=canary or None, version=version, wait=True
                )
                action = f"canary {canary} %" if canary else "rolling update"
    record = {
        "endpoint": name,
        "version": version,
        "deployment": f"{name}-{version}",
        "action": action,
        "state": str(getattr(endpoint.state, "value", endpoint.state)),
        "accuracy": accuracy,
        "min_accuracy": threshold,
        "model_sha256": info["model_sha256"],
        "evaluate_commit": args.version,
    }
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "release.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    print(f"release: {action} {name}-{version} (Accuracy {accuracy:.4f} > {threshold})")


if __name__ == "__main__":
    main()
