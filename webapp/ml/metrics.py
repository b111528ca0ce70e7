"""Scores on a held-out split (numpy only: the web process may import this)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """Counts with rows = true class, columns = predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return matrix


def evaluate(y_true: Sequence[int], probs: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix over the whole split."""
    labels = list(labels)
    probs = np.asarray(probs, dtype=np.float64).reshape(-1, len(labels))
    y_true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    if len(y_true) != len(probs):
        raise ValueError(f"{len(y_true)} true labels but {len(probs)} predictions.")
    if len(y_true) and (y_true.min() < 0 or y_true.max() >= len(labels)):
        raise ValueError("A true label index is outside the list of labels.")
    matrix = confusion_matrix(y_true, probs.argmax(axis=1), len(labels))
    return {
        "accuracy": float(np.trace(matrix) / len(y_true)) if len(y_true) else None,
        "per_class": {name: _class_scores(matrix, i) for i, name in enumerate(labels)},
        "confusion_matrix": matrix.tolist(),
        "labels": labels,
    }


def _class_scores(matrix: np.ndarray, i: int) -> dict[str, float | int]:
    tp = int(matrix[i, i])
    predicted, support = int(matrix[:, i].sum()), int(matrix[i, :].sum())
    # A class never predicted (or absent) scores 0, as scikit-learn's zero_division=0 does.
    precision = tp / predicted if predicted else 0.0
    recall = tp / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}
