"""What the worker calls: train a run end to end, and predict photos with a run's model."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from webapp.ml import artifacts
from webapp.ml._keras import keras
from webapp.ml.backbone import Backbone, get_backbone
from webapp.ml.errors import TrainingCancelled
from webapp.ml.features import FeatureCache, ensure_features, feature_key
from webapp.ml.images import to_model_input
from webapp.ml.metrics import evaluate
from webapp.ml.model import assemble_full_model, build_trained_part, cut_layer_name, get_extractor
from webapp.ml.plots import plot_learning_curves
from webapp.ml.predict import MODEL_CACHE, LoadedModel, ModelCache, forward_of, predict_features
from webapp.ml.train import train_on_features
from webapp.params import DEFAULT_BACKBONE, TrainParams

SPLITS = ("train", "val", "test")
LoadImage = Callable[[str], np.ndarray]


class Progress(Protocol):
    """What the worker gives run_training to report live progress and ask about cancellation."""

    def stage(self, name: str) -> None: ...
    def features(self, done: int, total: int) -> None: ...
    def batch(self, epoch: int, epochs: int, batch: int, batches: int) -> None: ...
    def epoch(self, epoch: int, logs: dict[str, Any]) -> None: ...
    def should_cancel(self) -> bool: ...


class NullProgress:
    """A Progress that reports nowhere and never cancels (subclass it to override a few hooks)."""

    def stage(self, name: str) -> None:
        """A new stage starts: backbone, features, training, evaluating, saving."""

    def features(self, done: int, total: int) -> None:
        """done of total photos have features."""

    def batch(self, epoch: int, epochs: int, batch: int, batches: int) -> None:
        """A training batch finished (1-based numbers)."""

    def epoch(self, epoch: int, logs: dict[str, Any]) -> None:
        """An epoch finished with loss, accuracy, val_loss, val_accuracy (None without validation)."""

    def should_cancel(self) -> bool:
        """True stops the run at the next batch (TrainingCancelled)."""
        return False


@dataclass
class TrainingJob:
    """Everything a run needs; items are (photo sha256, label index, split "train"|"val"|"test")."""

    weights_spec: str
    image_size: int
    backbone_dir: Path
    feature_root: Path
    model_dir: Path
    labels: list[str]
    items: list[tuple[str, int, str]]
    params: TrainParams = field(default_factory=TrainParams)
    load_image: LoadImage | None = None


@dataclass
class TrainingResult:
    """Scores on the test split, per-epoch history, artifact paths and stage timings (seconds)."""

    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    model_path: Path
    curves_path: Path
    trained_part_path: Path  # the trained part is read out of model.keras: no second 100+ MB file
    labels_path: Path
    info_path: Path
    probabilities: np.ndarray  # (len(job.items), n_classes), same order as job.items
    features_computed: int
    timings: dict[str, float]


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.start = time.perf_counter()

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start

    def total(self) -> dict[str, float]:
        return {**self.timings, "total": time.perf_counter() - self.start}


def check_job(job: TrainingJob) -> None:
    """ValueError in plain words for a job that cannot train."""
    if len(job.labels) < 2 or len(set(job.labels)) != len(job.labels):
        raise ValueError("Training needs at least two classes with different names.")
    if job.load_image is None:
        raise ValueError("The job has no load_image function.")
    for sha, label, split in job.items:
        if split not in SPLITS:
            raise ValueError(f"Photo {sha[:12]} has an unknown split {split!r}.")
        if not 0 <= label < len(job.labels):
            raise ValueError(f"Photo {sha[:12]} has a label index {label} outside the classes.")
    if not any(split == "train" for _, _, split in job.items):
        raise ValueError("There are no training photos: label some photos first.")


def _stage(progress: Progress, name: str) -> None:
    if progress.should_cancel():
        raise TrainingCancelled(f"Training was cancelled before the {name} stage.")
    progress.stage(name)


def _sized(load_image: LoadImage, size: int) -> LoadImage:
    return lambda sha: to_model_input(load_image(sha), size)


def run_training(job: TrainingJob, progress: Progress | None = None) -> TrainingResult:
    """Features (cached), train the last layers + head, score the test split, save the article's model."""
    progress = progress or NullProgress()
    check_job(job)
    clock = _Clock()
    with clock("backbone"):
        _stage(progress, "backbone")
        backbone = get_backbone(job.weights_spec, job.image_size, job.backbone_dir, job.params.backbone)
    with clock("features"):
        _stage(progress, "features")
        cache, x_all, computed = _features(backbone, job, progress)
    with clock("training"):
        _stage(progress, "training")
        trained_part, history = _train(backbone, job, x_all, progress)
    with clock("evaluating"):
        _stage(progress, "evaluating")
        probs = predict_features(trained_part, x_all)
        metrics = _test_metrics(job, probs)
    with clock("saving"):
        _stage(progress, "saving")
        paths = _save(backbone, trained_part, job, metrics, history, cache)
    return TrainingResult(
        metrics=metrics, history=history, probabilities=probs, features_computed=computed,
        timings=clock.total(), **paths,
    )  # fmt: skip


def _features(
    backbone: Backbone, job: TrainingJob, progress: Progress
) -> tuple[FeatureCache, np.ndarray, int]:
    """The job's features in item order (float16), computing and caching the missing ones."""
    extractor = get_extractor(backbone, job.params.trainable_layers)
    cache = FeatureCache(job.feature_root, _key(backbone, job.params.trainable_layers))
    shas = [sha for sha, _, _ in job.items]
    load = _sized(job.load_image, job.image_size)
    computed = ensure_features(
        cache, extractor, shas, load, on_progress=progress.features, should_cancel=progress.should_cancel
    )
    return cache, cache.many(shas), computed


def _key(backbone: Backbone, trainable_layers: int) -> str:
    cut = cut_layer_name(backbone, trainable_layers)
    return feature_key(backbone.identity, backbone.image_size, cut, backbone.name)


def _split(job: TrainingJob, x_all: np.ndarray, split: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [i for i, (_, _, s) in enumerate(job.items) if s == split]
    return x_all[rows], np.array([job.items[i][1] for i in rows], dtype=np.int64)


def _train(backbone: Backbone, job: TrainingJob, x_all: np.ndarray, progress: Progress):
    params = job.params
    # Seeding Keras also seeds `random` and numpy's global state: give them back to the worker afterwards.
    saved = random.getstate(), np.random.get_state()
    try:
        keras.utils.set_random_seed(params.seed)
        trained_part = build_trained_part(backbone, params.trainable_layers, len(job.labels), params.seed)
        history = train_on_features(
            trained_part, _split(job, x_all, "train"), _split(job, x_all, "val"), params,
            on_batch=progress.batch, on_epoch=progress.epoch, should_cancel=progress.should_cancel,
        )  # fmt: skip
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
    return trained_part, history


def _test_metrics(job: TrainingJob, probs: np.ndarray) -> dict[str, Any]:
    rows = [i for i, (_, _, s) in enumerate(job.items) if s == "test"]
    return evaluate([job.items[i][1] for i in rows], probs[rows], job.labels)


def _save(backbone, trained_part, job: TrainingJob, metrics, history, cache: FeatureCache) -> dict[str, Path]:
    model_dir = Path(job.model_dir)
    info = _run_info(backbone, job, metrics, history, cache)
    info_path = artifacts.write_json(model_dir / artifacts.INFO_FILE, info)
    labels_path = artifacts.write_json(model_dir / artifacts.LABELS_FILE, list(job.labels))
    curves_path = plot_learning_curves(history, model_dir / artifacts.CURVES_FILE)
    full = assemble_full_model(backbone, trained_part)
    # model.keras comes last: where it exists, the run folder is complete.
    model_path = artifacts.save_model(full, model_dir / artifacts.MODEL_FILE)
    extractor = get_extractor(backbone, job.params.trainable_layers)
    # A warm worker predicts with the model it just trained without reading 60-190 MB back from disk.
    MODEL_CACHE.put(LoadedModel(model_dir, full, extractor, forward_of(trained_part), info))
    return {
        "model_path": model_path, "curves_path": curves_path, "trained_part_path": model_path,
        "labels_path": labels_path, "info_path": info_path,
    }  # fmt: skip


def _run_info(backbone, job: TrainingJob, metrics, history, cache: FeatureCache) -> dict[str, Any]:
    """model_info.json: what predict_shas needs to find features again, plus the run's scores."""
    return {
        "format": 1,
        "backbone": backbone.name,
        "labels": list(job.labels),
        "weights_spec": str(job.weights_spec),
        "weights_identity": backbone.identity,
        "image_size": backbone.image_size,
        "trainable_layers": job.params.trainable_layers,
        "cut_layer": cut_layer_name(backbone, job.params.trainable_layers),
        "feature_key": cache.dir.name,
        "params": job.params.to_dict(),
        "metrics": metrics,
        "history": history,
        "keras_version": keras.__version__,
    }


def predict_shas(
    model_dir: str | os.PathLike,
    feature_root: str | os.PathLike,
    shas: Sequence[str],
    load_image: LoadImage,
    cache: ModelCache | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> np.ndarray:
    """Probabilities (len(shas), k) with a run's model: cached features where present, the rest computed
    with the model's own frozen part and cached."""
    loaded = (cache or MODEL_CACHE).get(model_dir)
    shas = list(shas)
    if not shas:
        return np.zeros((0, len(loaded.labels)), dtype=np.float32)
    features = FeatureCache(feature_root, loaded.info["feature_key"])
    size = int(loaded.info["image_size"])
    ensure_features(features, loaded.extractor, shas, _sized(load_image, size), should_cancel=should_cancel)
    return predict_features(loaded.trained_part, features.many(shas))


def precompute_features(
    weights_spec: str,
    image_size: int,
    backbone_dir: str | os.PathLike,
    feature_root: str | os.PathLike,
    shas: Sequence[str],
    load_image: LoadImage,
    trainable_layers: int | None = None,
    should_cancel: Callable[[], bool] | None = None,
    backbone_name: str = DEFAULT_BACKBONE,
) -> int:
    """Cache the features of new photos ahead of the next Train (the backbone's default cut unless
    trainable_layers says otherwise); returns how many."""
    if trainable_layers is None:
        trainable_layers = TrainParams(backbone=backbone_name).trainable_layers
    backbone = get_backbone(weights_spec, image_size, backbone_dir, backbone_name)
    cache = FeatureCache(feature_root, _key(backbone, trainable_layers))
    extractor = get_extractor(backbone, trainable_layers)
    return ensure_features(
        cache, extractor, shas, _sized(load_image, image_size), should_cancel=should_cancel
    )


def predict_arrays(
    model_dir: str | os.PathLike, images: Sequence[np.ndarray], cache: ModelCache | None = None
):
    """Probabilities for photos given as arrays (an upload to /api/v1/predict); nothing is cached."""
    loaded = (cache or MODEL_CACHE).get(model_dir)
    size = int(loaded.info["image_size"])
    batch = np.stack([to_model_input(image, size) for image in images]).astype(np.float32)
    return predict_features(loaded.trained_part, loaded.extractor(batch))


__all__ = [
    "NullProgress",
    "Progress",
    "TrainParams",
    "TrainingJob",
    "TrainingResult",
    "check_job",
    "precompute_features",
    "predict_arrays",
    "predict_shas",
    "run_training",
]
