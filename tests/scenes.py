"""Generated scenes and their near-duplicates: bursts, resized, recompressed, brightened and cropped copies.

A scene is a smooth random background with a few random shapes in random colours; a burst shot is the same
scene a second later (the camera moved a little, an object moved, new sensor noise). Pillow and numpy only.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

VARIANTS = ("burst", "burst2", "resized", "recompressed", "brightened", "darkened", "cropped", "shifted")


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(40, 215, size=3)
    slope = rng.uniform(-90, 90, size=(2, 3))
    return base + (xx / w)[..., None] * slope[0] + (yy / h)[..., None] * slope[1]


def scene_shapes(seed: int, w: int, h: int) -> list[tuple]:
    """The shapes of scene `seed`: (kind, box as fractions, colour)."""
    rng = np.random.default_rng(seed + 10_000)
    shapes = []
    for _ in range(rng.integers(3, 7)):
        x0, y0 = rng.uniform(-0.1, 0.8, size=2)
        sw, sh = rng.uniform(0.12, 0.45, size=2)
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        shapes.append((["rectangle", "ellipse"][rng.integers(2)], (x0, y0, x0 + sw, y0 + sh), colour))
    return shapes


def render(seed: int, size=(480, 360), offset=(0.0, 0.0), moved=0.0, noise_seed=0) -> Image.Image:
    """Scene `seed`, the camera shifted by offset (fractions of the size), its first shape moved."""
    w, h = size
    rng = np.random.default_rng(seed)
    pixels = _background(rng, w, h)
    im = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    for i, (kind, box, colour) in enumerate(scene_shapes(seed, w, h)):
        dx = offset[0] + (moved if i == 0 else 0.0)
        x0, y0, x1, y1 = box
        xy = [(x0 + dx) * w, (y0 + offset[1]) * h, (x1 + dx) * w, (y1 + offset[1]) * h]
        getattr(draw, kind)(xy, fill=colour)
    noise = np.random.default_rng(noise_seed).normal(0, 4, size=(h, w, 3))
    return Image.fromarray(np.clip(np.asarray(im, np.float32) + noise, 0, 255).astype(np.uint8))


def jpeg(im: Image.Image, quality: int = 90) -> bytes:
    """JPEG bytes of a picture."""
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def variant(seed: int, kind: str, size=(480, 360)) -> Image.Image:
    """A near-duplicate of render(seed, size) of one kind (see VARIANTS)."""
    w, h = size
    if kind == "burst":  # a second later: the hand moved, so did a shape
        return render(seed, size, offset=(0.02, 0.015), moved=0.03, noise_seed=1)
    if kind == "burst2":
        return render(seed, size, offset=(-0.03, 0.0), moved=-0.02, noise_seed=2)
    if kind == "shifted":
        return render(seed, size, offset=(0.04, -0.03), noise_seed=3)
    original = render(seed, size)
    if kind == "resized":
        return original.resize((w // 3, h // 3), Image.Resampling.LANCZOS)
    if kind == "recompressed":
        return Image.open(io.BytesIO(jpeg(original, quality=35))).convert("RGB")
    if kind == "brightened":
        return ImageEnhance.Brightness(original).enhance(1.3)
    if kind == "darkened":
        return ImageEnhance.Brightness(original).enhance(0.75)
    if kind == "cropped":  # 5 % off each side
        return original.crop((w // 20, h // 20, w - w // 20, h - h // 20))
    raise ValueError(kind)


def scene_jpeg(seed: int, kind: str | None = None, size=(480, 360)) -> bytes:
    """JPEG bytes of scene `seed`, or of one of its near-duplicates."""
    return jpeg(render(seed, size) if kind is None else variant(seed, kind, size))
