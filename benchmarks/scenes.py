"""Drawn scenes for the suggestion benchmark: a beer glass or a wine glass on a table, in varied rooms.

Two classes a person tells apart at a glance but whose colours overlap (amber beer vs red wine, both on
random tables against random walls, with clutter), so the features must see shapes, not one dominant colour.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES = ["beer", "wine"]


def _room(rng: np.random.Generator, size: int) -> tuple[Image.Image, int]:
    wall = tuple(int(v) for v in rng.integers(60, 230, 3))
    table = tuple(int(v) for v in rng.integers(40, 200, 3))
    image = Image.new("RGB", (size, size), wall)
    draw = ImageDraw.Draw(image)
    horizon = int(size * rng.uniform(0.55, 0.75))
    draw.rectangle([0, horizon, size, size], fill=table)
    for _ in range(int(rng.integers(1, 5))):  # clutter: plates, windows, frames
        x, y = (int(v) for v in rng.integers(0, size, 2))
        r = int(rng.integers(10, size // 5))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(
            [x - r, y - r // 2, x + r, y + r // 2], fill=colour
        )
    return image, horizon


def _beer(draw: ImageDraw.ImageDraw, rng, cx: int, base: int, h: int) -> None:
    w = int(h * rng.uniform(0.38, 0.5))
    amber = (int(rng.integers(200, 245)), int(rng.integers(120, 175)), int(rng.integers(10, 50)))
    draw.rectangle([cx - w // 2, base - h, cx + w // 2, base], fill=amber, outline=(230, 230, 230), width=2)
    foam = int(h * rng.uniform(0.12, 0.22))
    draw.rectangle([cx - w // 2, base - h, cx + w // 2, base - h + foam], fill=(250, 248, 235))
    draw.ellipse(
        [cx - w // 2 - 3, base - h - foam // 2, cx + w // 2 + 3, base - h + foam // 2], fill=(252, 250, 240)
    )


def _wine(draw: ImageDraw.ImageDraw, rng, cx: int, base: int, h: int) -> None:
    w = int(h * rng.uniform(0.45, 0.6))
    red = (int(rng.integers(90, 170)), int(rng.integers(0, 30)), int(rng.integers(20, 60)))
    bowl_top, bowl_bottom = base - h, base - int(h * 0.45)
    draw.ellipse([cx - w // 2, bowl_top, cx + w // 2, bowl_bottom], outline=(225, 225, 230), width=2)
    draw.chord([cx - w // 2, bowl_top, cx + w // 2, bowl_bottom], 0, 180, fill=red)
    draw.line([cx, bowl_bottom, cx, base - 4], fill=(225, 225, 230), width=3)
    draw.ellipse([cx - w // 3, base - 8, cx + w // 3, base], fill=(225, 225, 230))


def scene(rng: np.random.Generator, label: int, size: int = 224) -> np.ndarray:
    """One drawn photo of class label (0 beer, 1 wine) as a (size, size, 3) uint8 array."""
    image, horizon = _room(rng, size)
    draw = ImageDraw.Draw(image)
    h = int(size * rng.uniform(0.3, 0.55))
    cx = int(rng.integers(size // 4, 3 * size // 4))
    base = min(size - 4, horizon + int(rng.integers(5, 30)))
    (_beer if label == 0 else _wine)(draw, rng, cx, base, h)
    image = image.rotate(float(rng.normal(0, 4)), fillcolor=(0, 0, 0)).filter(ImageFilter.GaussianBlur(0.6))
    noisy = np.asarray(image, dtype=np.float32) + rng.normal(0, 6, (size, size, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def jpeg(array: np.ndarray, quality: int = 90) -> bytes:
    """The array as JPEG bytes (an upload)."""
    out = io.BytesIO()
    Image.fromarray(array).save(out, "JPEG", quality=quality)
    return out.getvalue()
