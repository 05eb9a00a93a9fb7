"""Write the raw data of the `e2e` template from scikit-learn's digits (1,797 8x8 images of
handwritten digits, pixel values 0-16), in two batches: the demo commits the first, then the
second ("more data").

    uv run --no-project --with scikit-learn python tests/templates/make_e2e_data.py
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from sklearn.datasets import load_digits

ROOT = Path(__file__).resolve().parents[2] / "src" / "kaon" / "templates" / "e2e" / "data"
FIRST = 1200  # digits-a.csv: the first 1,200 images; digits-b.csv: the other 597
HEADER = ["id", "label", *(f"p{i:02d}" for i in range(64))]


def split_of(sample_id: str) -> int:
    return int(hashlib.md5(sample_id.encode()).hexdigest(), 16) % 10


def main() -> None:
    digits = load_digits()
    rows = [
        [f"d{i:04d}", int(label), *(int(v) for v in pixels)]
        for i, (pixels, label) in enumerate(zip(digits.data, digits.target, strict=True))
    ]
    for path, part in [
        (ROOT / "stream" / "digits-a.csv", rows[:FIRST]),
        (ROOT / "more" / "digits-b.csv", rows[FIRST:]),
    ]:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(HEADER)
            writer.writerows(part)
    # five test-split images (five digits) of the second batch for the demo's predictions
    test, seen = [], set()
    for r in rows[FIRST:]:
        if split_of(r[0]) >= 8 and r[1] not in seen and len(test) < 5:
            test.append(r)
            seen.add(r[1])
    payload = {
        "ids": [r[0] for r in test],
        "labels": [r[1] for r in test],
        "ndarray": [r[2:] for r in test],
    }
    (ROOT / "payload.json").write_text(json.dumps(payload) + "\n")


if __name__ == "__main__":
    main()
