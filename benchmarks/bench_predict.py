"""Prediction speed: a run's model on cached features (the gallery's path) vs a full VGG16 forward pass.

    python benchmarks/bench_predict.py [--n 60] [--size 224] [--weights none|imagenet|/path.h5]

A 1-epoch run first makes a real run folder and caches every photo's features; then, with the model in
memory (a warm worker), both paths predict the same photos after one warm-up call each.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_train import LABELS, assign_splits, image_loader, make_photos, rss_mb


def timed(fn, *args):
    """(result, seconds)."""
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def make_run(args, root: Path, photos) -> Path:
    """Train 1 epoch so there is a real model folder and a filled feature cache."""
    from webapp.ml.pipeline import TrainingJob, run_training
    from webapp.params import TrainParams

    paths = {sha: path for sha, _, path in photos}
    job = TrainingJob(
        args.weights, args.size, root / "backbone", root / "features", root / "models" / "run", LABELS,
        assign_splits(photos), TrainParams(epochs=1), image_loader(paths, args.size),
    )  # fmt: skip
    result, seconds = timed(run_training, job)
    print(f"setup run (features for {result.features_computed} photos + 1 epoch): {seconds:.1f} s")
    return job.model_dir


def bench(args, root: Path) -> None:
    from webapp.ml.pipeline import predict_shas
    from webapp.ml.predict import MODEL_CACHE, predict_images

    photos = make_photos(root, args.n)
    shas, paths = [sha for sha, _, _ in photos], {sha: path for sha, _, path in photos}
    model_dir = make_run(args, root, photos)
    load = image_loader(paths, args.size)
    loaded = MODEL_CACHE.get(model_dir)
    predict_shas(model_dir, root / "features", shas[:2], load)  # warm-up: tracing
    predict_images(loaded.full, np.stack([load(sha) for sha in shas[:2]]))
    fast, t_fast = timed(predict_shas, model_dir, root / "features", shas, load)
    images, t_decode = timed(lambda: np.stack([load(sha) for sha in shas]))
    full, t_full = timed(predict_images, loaded.full, images)
    agree = float(np.mean(fast.argmax(1) == full.argmax(1)))
    print(f"cached features (read .npy + trained part): {args.n / t_fast:8.1f} photos/s ({t_fast:.2f} s)")
    print(f"full forward pass (images in memory):       {args.n / t_full:8.1f} photos/s ({t_full:.2f} s)")
    print(f"  + decoding the JPEGs first:               {args.n / (t_full + t_decode):8.1f} photos/s")
    ratio = t_full / t_fast
    print(f"speed-up {ratio:.1f}x vs forward only, {(t_full + t_decode) / t_fast:.1f}x with decoding "
          f"(target >= 8x: {'ok' if ratio >= 8 else 'MISSED'}); same class for {agree:.0%} of photos; "
          f"max |p_fast - p_full| {np.abs(fast - full).max():.1e}; peak RSS {rss_mb():.0f} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="photos")
    parser.add_argument("--size", type=int, default=224, help="model input side in pixels")
    parser.add_argument("--weights", default="none", help="imagenet, none or a weights file")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-predict-"))
    try:
        bench(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
