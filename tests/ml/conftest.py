"""Fixtures for webapp.ml: a random ("none") backbone at 32 px and synthetic photos, one colour per class."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

# `pytest` (unlike `python -m pytest`) does not put the repo root on sys.path, and webapp is not installed.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZE = 32
LABELS = ["beer", "wings"]
COLOURS = [(200, 40, 30), (30, 60, 210)]


def make_photo(rng: np.random.Generator, label: int, size: int = SIZE) -> np.ndarray:
    """A noisy image whose dominant colour says its class, with a random darker square on it."""
    base = np.array(COLOURS[label], dtype=np.float32)
    image = base + rng.normal(0, 25, (size, size, 3))
    y, x, side = *rng.integers(0, size // 2, 2), size // 3
    image[y : y + side, x : x + side] *= 0.6
    return np.clip(image, 0, 255).astype(np.uint8)


def photo_set(per_class: dict[str, int], seed: int = 0) -> tuple[dict[str, np.ndarray], list]:
    """{sha: image} and job items (sha, label, split) for e.g. {"train": 8, "val": 3, "test": 3} per class."""
    rng = np.random.default_rng(seed)
    images, items = {}, []
    for label in range(len(LABELS)):
        for split, count in per_class.items():
            for _ in range(count):
                image = make_photo(rng, label)
                sha = hashlib.sha256(image.tobytes()).hexdigest()
                images[sha] = image
                items.append((sha, label, split))
    return images, items


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (for subprocesses)."""
    return ROOT


@pytest.fixture(scope="session")
def photos():
    """The photo_set factory (fixtures, not imports: tests/ml has no __init__.py)."""
    return photo_set


@pytest.fixture
def progress_factory():
    """The RecordingProgress class."""
    return RecordingProgress


@pytest.fixture(scope="session")
def backbone_dir(tmp_path_factory) -> Path:
    """One folder for the whole session, so the random backbone is created once."""
    return tmp_path_factory.mktemp("backbone")


@pytest.fixture(scope="session")
def backbone(backbone_dir):
    """The cached random VGG16 at 32 px."""
    from webapp.ml.backbone import get_backbone

    return get_backbone("none", SIZE, backbone_dir)


@pytest.fixture(scope="session")
def mobilenet(backbone_dir):
    """The cached random MobileNetV2 at 32 px."""
    from webapp.ml.backbone import get_backbone

    return get_backbone("none", SIZE, backbone_dir, "mobilenet_v2")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, backbone_dir):
    """A real (small) training run: 2 classes x (8 train, 3 val, 3 test), 10 epochs."""
    from webapp.params import TrainParams

    return train_small(tmp_path_factory.mktemp("run"), backbone_dir, TrainParams(epochs=10, batch_size=8))


@pytest.fixture(scope="session")
def trained_mobilenet_run(tmp_path_factory, backbone_dir):
    """The same small run with MobileNetV2: its defaults (Adam 1e-3, Conv_1 trained), 10 epochs of 8."""
    from webapp.params import TrainParams

    params = TrainParams(backbone="mobilenet_v2", epochs=10, batch_size=8)
    return train_small(tmp_path_factory.mktemp("mobilenet-run"), backbone_dir, params)


def train_small(root: Path, backbone_dir: Path, params):
    """(job, images, result, progress) of a run on 2 classes x (8 train, 3 val, 3 test) photos."""
    from webapp.ml.pipeline import TrainingJob, run_training

    images, items = photo_set({"train": 8, "val": 3, "test": 3})
    job = TrainingJob(
        weights_spec="none",
        image_size=SIZE,
        backbone_dir=backbone_dir,
        feature_root=root / "features",
        model_dir=root / "models" / "1",
        labels=list(LABELS),
        items=items,
        params=params,
        load_image=images.__getitem__,
    )
    progress = RecordingProgress()
    result = run_training(job, progress)
    return job, images, result, progress


class RecordingProgress:
    """A Progress that records every call and can cancel after a number of batches."""

    def __init__(self, cancel_after_batches: int | None = None):
        self.calls: list[tuple] = []
        self.batches = 0
        self.cancel_after = cancel_after_batches

    def stage(self, name):
        self.calls.append(("stage", name))

    def features(self, done, total):
        self.calls.append(("features", done, total))

    def batch(self, epoch, epochs, batch, batches):
        self.batches += 1
        self.calls.append(("batch", epoch, epochs, batch, batches))

    def epoch(self, epoch, logs):
        self.calls.append(("epoch", epoch, dict(logs)))

    def should_cancel(self):
        return self.cancel_after is not None and self.batches >= self.cancel_after

    def of(self, kind):
        return [call for call in self.calls if call[0] == kind]
