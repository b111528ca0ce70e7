"""Near-duplicate fingerprints: a perceptual hash, a coarse colour signature and a tiny grey picture.

Pure functions (numpy and Pillow only). The pHash is ImageHash's `phash` (grey 32x32, 2-D DCT, the 8x8
lowest frequencies thresholded at their median: 64 bits) computed here with one matrix product, so the web
process needs neither scipy nor PyWavelets (ImageHash's dependencies, tens of MB) for 20 lines of numpy.
The pHash alone sees structure only: two plain pictures of the same layout in different colours share it.
The colour signature (the mean chromaticity r/(r+g+b), g/(r+g+b) of each quarter) keeps them apart, and
unlike brightness it survives a brightened or darkened copy. A 64-bit hash is coarse: two different scenes
of one layout (a dark bottle left of centre on a light table) can differ in as few bits as a burst shot, so
the 12x12 grey picture (mean and contrast taken out) must also correlate. Pictures with almost no structure
(a flat colour) get no fingerprint: their hash would be noise, and they are never grouped.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

HASH_SIDE = 32  # the picture is shrunk to this square, grey
LOW = 8  # LOW x LOW lowest DCT frequencies make the 64-bit hash
MIN_GREY_STD = 4.0  # below this the 32x32 grey picture is flat: no fingerprint
MAX_HASH_BITS = 14  # pHash bits that may differ between near-duplicates (of 64)
MAX_TONE_STEP = 16  # how far (in 1/255 chromaticity) a quarter's mean colour may move between them
GREY_SIDE = 12
MIN_GREY_CORRELATION = 0.8  # of the GREY_SIDE x GREY_SIDE grey pictures, brightness and contrast taken out
# pHash is not shift-tolerant (a burst shot 4 % to the side differs in ~13 bits, a stranger in ~30): a new
# picture is also hashed with 4 % cut off each side in turn and 4 % all round, and its best match counts.
SHIFT = 0.04
QUERY_BOXES = (
    (0, 0, 1, 1),
    (SHIFT, 0, 1, 1),
    (0, 0, 1 - SHIFT, 1),
    (0, SHIFT, 1, 1),
    (0, 0, 1, 1 - SHIFT),
    (SHIFT, SHIFT, 1 - SHIFT, 1 - SHIFT),
)
HASH_HEX = LOW * LOW // 4
TONE_VALUES = 8
TONE_HEX = HASH_HEX + 2 * TONE_VALUES
FINGERPRINT_CHARS = TONE_HEX + 2 * GREY_SIDE * GREY_SIDE


@functools.cache
def _dct_matrix(n: int) -> np.ndarray:
    """The orthonormal DCT-II matrix: C @ x is the DCT of the column vector x."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    c = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    c[0] /= np.sqrt(2.0)
    return c


def phash_bits(grey: np.ndarray) -> np.ndarray:
    """The 64 pHash bits (bool, row-major) of a HASH_SIDE x HASH_SIDE grey array."""
    c = _dct_matrix(grey.shape[0])
    low = (c @ grey @ c.T)[:LOW, :LOW]
    return (low > np.median(low)).ravel()


def tone_signature(rgb: np.ndarray) -> np.ndarray:
    """Mean chromaticity (r and g shares, 0-255) of each quarter of an RGB array: 8 uint8 values."""
    h, w = rgb.shape[0] // 2, rgb.shape[1] // 2
    values = []
    for part in (rgb[:h, :w], rgb[:h, w:], rgb[h:, :w], rgb[h:, w:]):
        total = part.sum(axis=-1) + 1.0
        values += [(part[..., 0] / total).mean(), (part[..., 1] / total).mean()]
    return np.clip(np.round(np.array(values) * 255), 0, 255).astype(np.uint8)


def grey_signature(image: Image.Image) -> np.ndarray:
    """The GREY_SIDE-square grey picture less its mean, scaled to -127..127 (int8, row-major)."""
    grey = np.asarray(image.convert("L").resize((GREY_SIDE, GREY_SIDE), Image.Resampling.BOX), np.float64)
    grey = grey.ravel() - grey.mean()
    return np.round(grey * 127 / max(np.abs(grey).max(), 1e-9)).astype(np.int8)


def fingerprint(image: Image.Image) -> str | None:
    """An RGB picture's fingerprint in FINGERPRINT_CHARS hex digits (hash, tone, grey); None when flat."""
    small = np.asarray(image.convert("RGB").resize((HASH_SIDE, HASH_SIDE), Image.Resampling.BOX), np.float64)
    grey = small @ np.array([0.299, 0.587, 0.114])
    if grey.std() < MIN_GREY_STD:
        return None
    parts = [np.packbits(phash_bits(grey)), tone_signature(small), grey_signature(image)]
    return "".join(part.tobytes().hex() for part in parts)


def query_prints(image: Image.Image) -> list[str] | None:
    """The picture's fingerprint followed by those of its shifted crops (QUERY_BOXES); None when flat."""
    w, h = image.size
    prints = []
    for left, top, right, bottom in QUERY_BOXES:
        box = (round(left * w), round(top * h), round(right * w), round(bottom * h))
        prints.append(fingerprint(image.crop(box)) if box != (0, 0, w, h) else fingerprint(image))
    return prints if prints[0] is not None else None


def split_fingerprints(prints: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hashes (uint64), tones (int16, n x 8) and unit grey vectors (n x 144) of fingerprints."""
    hashes = np.array([int(p[:HASH_HEX], 16) for p in prints], dtype=np.uint64)
    tones = np.frombuffer(bytes.fromhex("".join(p[HASH_HEX:TONE_HEX] for p in prints)), np.uint8)
    greys = np.frombuffer(bytes.fromhex("".join(p[TONE_HEX:] for p in prints)), np.int8).astype(np.float64)
    greys = greys.reshape(len(prints), GREY_SIDE * GREY_SIDE)
    greys /= np.maximum(np.linalg.norm(greys, axis=1, keepdims=True), 1e-9)
    return hashes, tones.astype(np.int16).reshape(len(prints), TONE_VALUES), greys


def matches(queries: list[str], hashes: np.ndarray, tones: np.ndarray, greys: np.ndarray) -> np.ndarray:
    """Which stored fingerprints (split_fingerprints' arrays) are near-duplicates of a query (bool array).

    queries: query_prints() of the new picture; the best of its crops counts, the tone is the whole one's.
    """
    if len(hashes) == 0:
        return np.zeros(0, dtype=bool)
    own_hashes, own_tones, own_greys = split_fingerprints([q for q in queries if q is not None])
    distance = np.bitwise_count(hashes[:, None] ^ own_hashes[None, :]).min(axis=1)
    tone_step = np.abs(tones - own_tones[0]).max(axis=1)
    correlation = (greys @ own_greys.T).max(axis=1)
    close = (distance <= MAX_HASH_BITS) & (tone_step <= MAX_TONE_STEP)
    return close & (correlation >= MIN_GREY_CORRELATION)


def prints_match(qa: list[str] | None, qb: list[str] | None) -> bool:
    """Whether two pictures' query_prints are near-duplicates (the best of both ways round)."""
    if qa is None or qb is None:
        return False
    return bool(matches(qa, *split_fingerprints([qb[0]]))[0] or matches(qb, *split_fingerprints([qa[0]]))[0])


def near_duplicates(a: Image.Image, b: Image.Image) -> bool:
    """Whether two pictures are near-duplicates."""
    return prints_match(query_prints(a), query_prints(b))
