"""How the data shipped in src/kaon/templates was made (run once; not part of the test suite).

    python tests/templates/make_template_data.py [templates-dir]

Needs scikit-learn, numpy and pillow, which kaon itself does not: run it in a throw-away
environment. It rewrites, deterministically:

* mnist/data/features/{training,validation,test}/*.csv: scikit-learn's `load_digits()`,
  split 70/15/15 (stratified, seed 0); `label` then 64 pixels `pixel_<row>_<col>` (0-16);
* mnist/test_payload.jpg: a photo-like drawing of a 3 (pen on slightly shaded paper);
* property-val/data/features/{training,validation,test}/*.csv: 1,500 synthetic house sales
  (Ames-like columns, log-linear price plus noise), split 70/15/15.

The CSV files come out byte-identical on every run; the JPEG depends on the libjpeg build.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "src" / "kaon" / "templates"
SPLITS = ("training", "validation", "test")


def write_splits(root: Path, header: list[str], rows: list[list], parts: dict) -> None:
    for split, index in parts.items():
        path = root / "features" / split / f"{split}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows[i] for i in sorted(index))
        print(f"{path}: {len(index)} rows")


def make_digits(root: Path) -> None:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x, y = digits.data.astype(int), digits.target.astype(int)
    index = np.arange(len(y))
    train, rest = train_test_split(index, train_size=0.70, random_state=0, stratify=y)
    val, test = train_test_split(rest, train_size=0.50, random_state=0, stratify=y[rest])
    header = ["label"] + [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
    rows = [[int(y[i]), *map(int, x[i])] for i in range(len(y))]
    write_splits(root, header, rows, dict(zip(SPLITS, (train, val, test), strict=True)))


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float) -> np.ndarray:
    t = np.linspace(np.radians(a0), np.radians(a1), 60)
    return np.stack([cx + rx * np.cos(t), cy - ry * np.sin(t)], axis=1)


def draw_three(path: Path, seed: int = 3, stroke: float = 34, xscale: float = 0.85) -> None:
    rng = np.random.default_rng(seed)
    size, ss = 640, 4  # canvas, supersampling
    upper = _arc(0.49, 0.33, 0.17, 0.135, 155, -90)  # top bowl, clockwise to the waist
    lower = _arc(0.50, 0.61, 0.205, 0.165, 90, -150)  # bottom bowl
    pts = np.concatenate([upper, [[0.45, 0.465], [0.49, 0.455]], lower])
    pts[:, 0] = 0.5 + (pts[:, 0] - 0.5) * xscale
    wobble = np.cumsum(rng.normal(0, 0.0012, pts.shape), axis=0)  # an unsteady hand
    wobble -= np.linspace(0, 1, len(pts))[:, None] * wobble[-1]
    pts = pts + wobble

    canvas = Image.new("L", (size * ss, size * ss), 0)
    draw = ImageDraw.Draw(canvas)
    widths = np.linspace(stroke, stroke * 0.8, len(pts)) * ss  # the pen lifts a little
    xy = [(float(x * size * ss), float(y * size * ss)) for x, y in pts]
    for p, q, w in zip(xy, xy[1:], widths, strict=False):
        draw.line([p, q], fill=255, width=int(w))
        r = w / 2
        draw.ellipse([q[0] - r, q[1] - r, q[0] + r, q[1] + r], fill=255)
    small = canvas.resize((size, size), Image.Resampling.LANCZOS).filter(
        ImageFilter.GaussianBlur(1.2)
    )
    ink = np.asarray(small, dtype=np.float64)[..., None] / 255 * 0.92

    yy, xx = np.mgrid[0:size, 0:size] / size
    light = 0.93 - 0.08 * (xx * 0.6 + yy * 0.8) + rng.normal(0, 0.012, (size, size))
    paper = np.stack([light * 250, light * 246, light * 236], axis=-1)
    pen = np.array([38.0, 42.0, 70.0])
    pixels = np.clip(paper * (1 - ink) + pen * ink, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, "JPEG", quality=88)
    print(f"{path}: {path.stat().st_size} bytes")


NEIGHBORHOODS = {  # name: (share of sales, log-price offset)
    "NAmes": (0.18, -0.05),
    "CollgCr": (0.14, 0.05),
    "OldTown": (0.11, -0.22),
    "Edwards": (0.09, -0.18),
    "Somerst": (0.09, 0.12),
    "Gilbert": (0.08, 0.04),
    "NridgHt": (0.08, 0.30),
    "Sawyer": (0.08, -0.12),
    "NWAmes": (0.08, 0.03),
    "StoneBr": (0.07, 0.35),
}
BUILDING_TYPES = {
    "1Fam": (0.78, 0.0),
    "TwnhsE": (0.09, -0.04),
    "Duplex": (0.05, -0.15),
    "Twnhs": (0.04, -0.10),
    "2fmCon": (0.04, -0.17),
}


def make_houses(root: Path, n: int = 1500) -> None:
    rng = np.random.default_rng(20240601)

    def pick(table: dict) -> tuple[np.ndarray, np.ndarray]:
        names = list(table)
        share = np.array([table[k][0] for k in names])
        chosen = np.array(names)[rng.choice(len(names), size=n, p=share / share.sum())]
        return chosen, np.array([table[k][1] for k in chosen])

    neigh, n_off = pick(NEIGHBORHOODS)
    bldg, b_off = pick(BUILDING_TYPES)

    def clip_int(values: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
        return np.clip(np.round(values), lo, hi).astype(int)

    qual = clip_int(rng.normal(6.0 + 3.0 * n_off, 1.3), 1, 10)
    cond = clip_int(rng.normal(5.5, 1.0, n), 1, 9)
    year = clip_int(1972 + 9 * (qual - 6) + rng.normal(0, 22, n) + 40 * n_off, 1880, 2010)
    remod = np.where(rng.random(n) < 0.45, year, np.clip(year + rng.integers(0, 60, n), None, 2010))
    remod = np.maximum(remod, year).astype(int)
    lot_scale = np.where(bldg == "1Fam", 1.0, 0.55)
    lot = clip_int(np.exp(rng.normal(9.1, 0.38, n)) * lot_scale, 1300, 60000)
    liv = clip_int(np.exp(rng.normal(7.2 + 0.07 * (qual - 6), 0.26, n)), 480, 4700)
    has_bsmt = rng.random(n) > 0.03
    bsmt = np.where(has_bsmt, clip_int(liv * rng.normal(0.72, 0.2, n), 200, 3200), 0)
    rooms = clip_int(liv / 260 + rng.normal(0.8, 0.9, n), 3, 12)
    bed = clip_int(rooms * 0.45 + rng.normal(0, 0.6, n), 1, 6)
    bath = clip_int(liv / 1100 + 0.3 * (qual > 7) + rng.normal(0, 0.4, n), 1, 3)
    garage = clip_int(0.4 * (qual - 2) + 0.01 * (year - 1950) / 2 + rng.normal(0, 0.6, n), 0, 4)
    fire = clip_int(rng.exponential(0.55, n) + 0.12 * (qual - 6), 0, 3)

    log_price = (
        12.05
        + 0.105 * (qual - 6)
        + 0.012 * (qual - 6) ** 2
        + 0.035 * (cond - 5)
        + 0.0025 * (year - 1970)
        + 0.0012 * (remod - year) * (remod > year)
        + 0.48 * np.log(liv / 1500)
        + 0.09 * np.log(lot / 9500)
        + 0.00008 * (bsmt - 1000)
        + 0.045 * (garage - 2)
        + 0.035 * fire
        + 0.03 * (bath - 2)
        - 0.015 * (bed - 3)
        + n_off
        + b_off
        + rng.normal(0, 0.09, n)
    )
    price = (np.round(np.exp(log_price) / 100) * 100).astype(int)

    columns = {
        "LotArea": lot,
        "OverallQual": qual,
        "OverallCond": cond,
        "YearBuilt": year,
        "YearRemodAdd": remod,
        "TotalBsmtSF": bsmt,
        "GrLivArea": liv,
        "FullBath": bath,
        "BedroomAbvGr": bed,
        "TotRmsAbvGrd": rooms,
        "GarageCars": garage,
        "Fireplaces": fire,
        "Neighborhood": neigh,
        "BldgType": bldg,
        "SalePrice": price,
    }
    header = list(columns)
    rows = [[columns[c][i].item() for c in header] for i in range(n)]
    order = rng.permutation(n)
    n_train, n_val = int(0.70 * n), int(0.15 * n)
    parts = (order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :])
    write_splits(root, header, rows, dict(zip(SPLITS, parts, strict=True)))


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_ROOT
    make_digits(root / "mnist" / "data")
    draw_three(root / "mnist" / "test_payload.jpg")
    make_houses(root / "property-val" / "data")


if __name__ == "__main__":
    main()
