"""Bring a loaded photo to the model's input: uint8 RGB, size x size (numpy + Pillow, no TensorFlow)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_model_input(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 (size, size, 3); grey is repeated, alpha dropped, other sizes resized (bilinear)."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"Expected an RGB image array, got shape {array.shape}.")
    array = array[:, :, :3]
    if array.dtype != np.uint8:
        array = np.clip(np.rint(array), 0, 255).astype(np.uint8)
    if array.shape[:2] != (size, size):
        array = np.asarray(Image.fromarray(array).resize((size, size), Image.Resampling.BILINEAR))
    return array
