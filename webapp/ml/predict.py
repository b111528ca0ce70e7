"""Predictions: fast on cached features, or a full forward pass; loaded models kept in a warm worker."""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from webapp.ml._keras import keras
from webapp.ml.artifacts import INFO_FILE, MODEL_FILE, read_json
from webapp.ml.model import Forward, split_full_model

_FORWARDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def forward_of(model: keras.Model | Forward, batch_size: int = 32) -> Forward:
    """The traced inference pass of a model, made once per model object."""
    if isinstance(model, Forward):
        return model
    if model not in _FORWARDS:
        _FORWARDS[model] = Forward(model, batch_size=batch_size)
    return _FORWARDS[model]


def predict_features(trained_part: keras.Model | Forward, features: np.ndarray) -> np.ndarray:
    """Class probabilities (n, k) from cached frozen-part features: the fast path."""
    return forward_of(trained_part)(features)


def predict_images(full_model: keras.Model | Forward, images: np.ndarray) -> np.ndarray:
    """Class probabilities (n, k) from raw RGB images (uint8 0-255) through the whole network."""
    return forward_of(full_model, batch_size=8)(np.asarray(images, dtype=np.float32))


@dataclass
class LoadedModel:
    """A run's model with its two halves ready for inference, and the run's saved info."""

    model_dir: Path
    full: keras.Model
    extractor: Forward
    trained_part: Forward
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        """Class names in output order."""
        return list(self.info["labels"])


def load_run_model(model_dir: str | os.PathLike) -> LoadedModel:
    """Load model.keras and model_info.json of a run folder (plain keras.saving.load_model)."""
    model_dir = Path(model_dir)
    full = keras.saving.load_model(model_dir / MODEL_FILE, compile=False)
    extractor, trained_part = split_full_model(full)
    return LoadedModel(
        model_dir=model_dir,
        full=full,
        extractor=Forward(extractor, batch_size=8),
        trained_part=Forward(trained_part),
        info=read_json(model_dir / INFO_FILE),
    )


class ModelCache:
    """Keeps the last loaded run models (a full model is ~60-190 MB) for a warm worker."""

    def __init__(self, max_entries: int = 1):
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, int], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(model_dir: str | os.PathLike) -> tuple[str, int]:
        path = Path(model_dir).resolve()
        # The file's mtime in the key: a rewritten model.keras is loaded again.
        return str(path), (path / MODEL_FILE).stat().st_mtime_ns

    def get(self, model_dir: str | os.PathLike) -> LoadedModel:
        """The run's model, loaded from disk only when not already in memory."""
        key = self._key(model_dir)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            loaded = load_run_model(model_dir)
            self._store(key, loaded)
            return loaded

    def put(self, loaded: LoadedModel) -> None:
        """Remember a model already in memory (the one a run just trained and saved)."""
        with self._lock:
            self._store(self._key(loaded.model_dir), loaded)

    def _store(self, key: tuple[str, int], loaded: LoadedModel) -> None:
        self._entries[key] = loaded
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Drop every cached model."""
        with self._lock:
            self._entries.clear()


MODEL_CACHE = ModelCache()
