"""Serve the mnist template model (an SVC on 8x8 digits, pixel values 0-16).

kaon calls `load_ctx(model_dir)` once and `predict(payload, ctx)` per request:

* image bytes (JPEG, PNG, ...; any size; dark ink on light paper, light on dark, or strokes
  on a transparent canvas): the digit is cropped to its ink, centred in a square, its strokes
  thickened if thin, and shrunk to 8x8 with values 0-16 like the training data;
* JSON `{"pixels": [64 numbers]}`, `{"pixels": [[64 numbers], ...]}`, a list of such
  objects, a list of 64-number rows, or one 64-number row: pixels as in the training CSVs.

The answer is `{"result": [digit, ...]}`, one digit per image or row.
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter, ImageOps

MAX_SIDE = 512  # photos are shrunk to this first: plenty for an 8x8 result
GRID = 64  # the digit is drawn on a GRID x GRID bitmap, then counted in blocks
STROKE = 6.5  # thinner strokes (in GRID cells) are thickened to about this width


def load_ctx(model_dir: str) -> dict:
    with open(Path(model_dir) / "model.pkl", "rb") as f:
        bundle = pickle.load(f)
    size = int(bundle.get("image_size", 8))
    return {
        "model": bundle["model"],
        "size": size,
        "n_pixels": size * size,
        "pixel_max": float(bundle.get("pixel_max", 16)),
    }


def predict(payload: Any, ctx: dict) -> dict:
    if isinstance(payload, (bytes, bytearray, memoryview)):
        data = bytes(payload)
        if data.lstrip()[:1] in (b"{", b"["):  # JSON sent without a JSON content type
            rows = _json_rows(json.loads(data), ctx["n_pixels"])
        else:
            rows = image_to_pixels(data, ctx["size"], ctx["pixel_max"])[None, :]
    else:
        rows = _json_rows(payload, ctx["n_pixels"])
    return {"result": [int(label) for label in ctx["model"].predict(rows)]}


def predict_batch(payloads: list[Any], ctx: dict) -> list[dict]:
    """Many requests in one model.predict call (kaon serve deploy --batch 32/5ms)."""
    if any(isinstance(p, (bytes, bytearray, memoryview)) for p in payloads):
        return [predict(p, ctx) for p in payloads]
    rows = [_json_rows(p, ctx["n_pixels"]) for p in payloads]
    labels = ctx["model"].predict(np.concatenate(rows))
    out, at = [], 0
    for r in rows:
        out.append({"result": [int(x) for x in labels[at : at + len(r)]]})
        at += len(r)
    return out


def image_to_pixels(data: bytes, size: int = 8, pixel_max: float = 16.0) -> np.ndarray:
    """An image of one digit -> `size*size` pixel values, ink high, background 0."""
    try:
        img = Image.open(io.BytesIO(data))
        img.draft(img.mode, (MAX_SIDE, MAX_SIDE))  # JPEG: decode big photos at 1/2..1/8 size
        img = ImageOps.exif_transpose(img)  # phone photos carry their rotation in EXIF
        img.thumbnail((MAX_SIDE, MAX_SIDE))
        ink = _ink(img)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"payload is neither JSON nor a readable image: {exc}") from exc
    if ink.max() < 0.15:
        raise ValueError("no digit found: the image has (almost) no contrast")
    ink = ink / ink.max()

    # Separate ink from paper with Otsu's threshold, then crop to the ink's bounding box
    # (ignoring the faintest 0.5% of the ink mass at each side: specks, paper edges).
    mask = ink > _otsu(ink)
    top, bottom = _span(mask.sum(axis=1))
    left, right = _span(mask.sum(axis=0))

    # Pad the ink mask to a square (digit centred), as a 64x64 bitmap.
    mask = mask[top:bottom, left:right]
    h, w = mask.shape
    side = max(h, w)
    square = np.zeros((side, side), dtype=np.uint8)
    y0, x0 = (side - h) // 2, (side - w) // 2
    square[y0 : y0 + h, x0 : x0 + w] = np.where(mask, 255, 0)
    bitmap = Image.fromarray(square).resize((GRID, GRID), Image.Resampling.BOX)

    # The digits in the dataset were written with a broad pen; a thin pen or a big image
    # gives hairlines that the model barely sees, so thicken thin strokes.
    width = _stroke_width(np.asarray(bitmap) > 127)
    if width < STROKE:
        grow = 2 * round((STROKE - width) / 2) + 1  # a max filter of size k widens by k-1
        if grow > 1:
            bitmap = bitmap.filter(ImageFilter.MaxFilter(grow))
    on = np.asarray(bitmap) > 127

    # Count the "on" cells of each block, scaled to 0..pixel_max (the dataset's 4x4 counts).
    block = GRID // size
    pixels = on.reshape(size, block, size, block).mean(axis=(1, 3)) * pixel_max
    return np.round(pixels).reshape(-1)


def _stroke_width(on: np.ndarray) -> float:
    """Mean stroke width in cells: area / half the boundary length."""
    padded = np.pad(on, 1)
    edges = sum(
        int((on & ~padded[1 + dy : 1 + dy + on.shape[0], 1 + dx : 1 + dx + on.shape[1]]).sum())
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1))
    )
    return 2.0 * float(on.sum()) / max(edges, 1)


def _ink(img: Image.Image) -> np.ndarray:
    """Ink intensity above the background, 0-1, whatever the colours of paper and pen."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        alpha = np.asarray(img.convert("RGBA"), dtype=np.float64)[..., 3] / 255.0
        if alpha.min() < 0.99:  # strokes on a transparent canvas: the alpha is the ink
            return alpha
    gray = np.asarray(img.convert("L"), dtype=np.float64) / 255.0
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    if background >= 0.5:  # light paper: make the ink the bright part
        gray, background = 1.0 - gray, 1.0 - background
    return np.clip(gray - background, 0.0, 1.0)


def _otsu(values: np.ndarray) -> float:
    hist, edges = np.histogram(values, bins=64, range=(0.0, 1.0))
    centers = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(hist)
    mass = np.cumsum(hist * centers)
    total, total_mass = weight[-1], mass[-1]
    best, threshold = -1.0, 0.5
    for i in range(len(hist) - 1):
        w0, w1 = weight[i], total - weight[i]
        if w0 == 0 or w1 == 0:
            continue
        m0, m1 = mass[i] / w0, (total_mass - mass[i]) / w1
        between = w0 * w1 * (m0 - m1) ** 2
        if between > best:
            best, threshold = between, float(edges[i + 1])
    return threshold


def _span(profile: np.ndarray, trim: float = 0.005) -> tuple[int, int]:
    cumulative = np.cumsum(profile) / max(float(profile.sum()), 1.0)
    start = int(np.searchsorted(cumulative, trim, side="right"))
    stop = int(np.searchsorted(cumulative, 1.0 - trim, side="left")) + 1
    return start, max(stop, start + 1)


def _json_rows(obj: Any, n_pixels: int) -> np.ndarray:
    """Every accepted JSON shape -> a (rows, n_pixels) float array."""
    if isinstance(obj, dict):
        obj = obj.get("pixels")
    if isinstance(obj, list) and obj and all(_is_number(v) for v in obj):
        obj = [obj]  # a single row
    if not isinstance(obj, list) or not obj:
        raise ValueError('expected {"pixels": [...]}, a list of rows of pixels, or image bytes')
    rows = [row.get("pixels") if isinstance(row, dict) else row for row in obj]
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != n_pixels:
            raise ValueError(f"row {i}: expected a list of {n_pixels} pixel values")
        if not all(_is_number(v) for v in row):
            raise ValueError(f"row {i}: pixel values must be numbers")
    return np.asarray(rows, dtype=np.float64)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
