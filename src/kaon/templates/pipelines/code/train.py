"""Fit y = w1*x1 + w2*x2 + b by ridge least squares (pure Python, deterministic) on every
cleaned file; write model.json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rows import read_rows


def solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (a is small and square)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in reversed(range(n)):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


def fit(rows: list[tuple[float, float, float]], l2: float) -> dict[str, float]:
    features = [(x1, x2, 1.0) for x1, x2, _ in rows]
    xtx = [[sum(f[i] * f[j] for f in features) for j in range(3)] for i in range(3)]
    for i in range(2):  # the bias is not penalized
        xtx[i][i] += l2
    xty = [sum(f[i] * row[2] for f, row in zip(features, rows, strict=True)) for i in range(3)]
    w1, w2, b = solve(xtx, xty)
    return {"w1": round(w1, 6), "w2": round(w2, 6), "b": round(b, 6)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--hyperparam_fn_path", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    hp = json.loads(args.hyperparam_fn_path.read_text())
    rows = read_rows(args.input)
    model = fit(rows, float(hp.get("l2", 0.0)))
    model["rows"] = len(rows)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "model.json").write_text(json.dumps(model, indent=2, sort_keys=True) + "\n")
    print(f"trained on {len(rows)} rows: {model}")


if __name__ == "__main__":
    main()
