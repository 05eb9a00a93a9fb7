"""Score model.json on the held-out rows: metrics.json with rmse, mae and the row count."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from rows import predict, read_rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--holdout", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    model = json.loads(args.model.read_text())
    rows = read_rows(args.holdout)
    errors = [predict(model, x1, x2) - y for x1, x2, y in rows]
    metrics = {
        "rows": len(rows),
        "rmse": round(math.sqrt(sum(e * e for e in errors) / len(errors)), 6),
        "mae": round(sum(abs(e) for e in errors) / len(errors), 6),
        "trained_on": model["rows"],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    print(f"metrics: {metrics}")


if __name__ == "__main__":
    main()
