"""Instant suggestions: a softmax-regression head on pooled frozen-backbone features (numpy only).

The worker caches every photo's frozen-backbone features (webapp.ml.features); pooled over their spatial
axes they are one vector a photo (VGG16 block 4: 512 values, MobileNetV2: 1280), and a linear head on them
trains in milliseconds, so suggestions can follow every label a person gives.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from webapp.ml.features import FeatureCache

MIN_CLASSES = 2
MIN_PER_CLASS = 2
ROW_NORM = 8.0  # the rows' length: sets how fast confidence grows with the labels given


def pooled(features: np.ndarray) -> np.ndarray:
    """One float32 vector per photo: the mean over every axis but the channels."""
    data = np.asarray(features, dtype=np.float32)
    return data.reshape(-1, data.shape[-1]).mean(axis=0) if data.ndim > 1 else data


class PooledCache:
    """Pooled vectors kept in this worker's memory (a few KB a photo), read from a FeatureCache once."""

    def __init__(self, max_photos: int = 50_000):
        self.max_photos = max_photos
        self._rows: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

    def get(self, cache: FeatureCache, sha: str) -> np.ndarray | None:
        """The pooled vector of one photo, or None when its features are not cached."""
        key = (cache.dir.name, sha)
        row = self._rows.get(key)
        if row is None:
            features = cache.get(sha)
            if features is None:
                return None
            row = self._rows[key] = pooled(features)
            while len(self._rows) > self.max_photos:
                self._rows.popitem(last=False)
        return row

    def many(self, cache: FeatureCache, shas: Sequence[str]) -> tuple[np.ndarray | None, list[str]]:
        """(stacked vectors of the photos that have features, the shas without features)."""
        rows, missing = [], []
        for sha in shas:
            row = self.get(cache, sha)
            if row is None:
                missing.append(sha)
            else:
                rows.append(row)
        return (np.stack(rows) if rows else None), missing


POOLED = PooledCache()


def enough_labels(labels: Sequence[int]) -> bool:
    """Whether at least two classes have at least two labeled photos each."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64)) if len(labels) else np.zeros(0)
    return int((counts >= MIN_PER_CLASS).sum()) >= MIN_CLASSES


@dataclass
class SuggestionModel:
    """Centre, normalise, then a linear softmax over the classes seen in the labeled photos."""

    mean: np.ndarray
    weights: np.ndarray  # (features, classes)
    bias: np.ndarray  # (classes,)
    classes: np.ndarray  # the label indices the columns stand for

    def prepare(self, x: np.ndarray) -> np.ndarray:
        """Centred rows of unit length (the head's input)."""
        centred = np.asarray(x, dtype=np.float32) - self.mean
        return ROW_NORM * centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-6)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(rows, classes) probabilities, columns in the order of self.classes."""
        return _softmax(self.prepare(x) @ self.weights + self.bias)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def fit(x_all: np.ndarray, x: np.ndarray, y: Sequence[int], steps: int = 400) -> SuggestionModel:
    """Train the head on labeled rows x (labels y); x_all (every photo) sets the centre.

    L2-regularised like scikit-learn's LogisticRegression(C=1) (penalty ||W||^2 / 2 beside the summed
    loss), so two labels a class give modest confidences rather than 100 %. Nesterov gradient descent with
    the step of the loss's Lipschitz bound: on unit rows it converges in a few hundred cheap steps.
    """
    classes, y_idx = np.unique(np.asarray(y, dtype=np.int64), return_inverse=True)
    model = SuggestionModel(
        mean=np.asarray(x_all, dtype=np.float32).mean(axis=0),
        weights=np.zeros((x.shape[1], len(classes)), dtype=np.float32),
        bias=np.zeros(len(classes), dtype=np.float32),
        classes=classes,
    )
    rows = model.prepare(x)
    n, onehot = len(rows), np.eye(len(classes), dtype=np.float32)[y_idx]
    lam = 1.0 / n  # C=1 with the loss averaged over n rows
    step = 1.0 / (0.5 * float(np.linalg.norm(rows, 2)) ** 2 / n + 0.5 + lam)
    w, b = model.weights, model.bias
    w_prev, b_prev = w.copy(), b.copy()
    for t in range(1, steps + 1):
        momentum = (t - 1) / (t + 2)
        w_look, b_look = w + momentum * (w - w_prev), b + momentum * (b - b_prev)
        error = (_softmax(rows @ w_look + b_look) - onehot) / n
        w_prev, b_prev = w, b
        w = w_look - step * (rows.T @ error + lam * w_look)
        b = b_look - step * error.sum(axis=0)
    model.weights, model.bias = w.astype(np.float32), b.astype(np.float32)
    return model


def suggest(
    x_all: np.ndarray, labeled_rows: Sequence[int], labels: Sequence[int]
) -> tuple[np.ndarray, np.ndarray] | None:
    """(best label index, its probability) for every row of x_all, or None with too few labels."""
    if not enough_labels(labels):
        return None
    model = fit(x_all, x_all[list(labeled_rows)], labels)
    probs = model.predict_proba(x_all)
    best = probs.argmax(axis=1)
    return model.classes[best], probs[np.arange(len(best)), best]


_KEYS: dict[tuple, str] = {}


def default_cache(
    weights_spec: str, image_size: int, backbone_dir, feature_root, backbone_name: str
) -> FeatureCache:
    """The cache the worker fills for every new photo: the default backbone at its default cut."""
    args = (str(weights_spec), int(image_size), str(backbone_dir), backbone_name)
    if args not in _KEYS:
        from webapp.ml.backbone import get_backbone
        from webapp.ml.features import feature_key
        from webapp.ml.model import cut_layer_name
        from webapp.params import TrainParams

        backbone = get_backbone(weights_spec, image_size, backbone_dir, backbone_name)
        cut = cut_layer_name(backbone, TrainParams(backbone=backbone_name).trainable_layers)
        _KEYS[args] = feature_key(backbone.identity, backbone.image_size, cut, backbone.name)
    return FeatureCache(feature_root, _KEYS[args])
