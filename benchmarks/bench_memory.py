"""Worker memory at scale: peak RSS of one training run on N photos (default 1000, 224 px, 5 epochs).

    python benchmarks/bench_memory.py [--n 1000] [--size 224] [--epochs 5] [--backbone vgg16|mobilenet_v2]

The baseline is this process right after TensorFlow is imported and the backbone built (a warm worker at
rest); the run then computes every photo's features (cold cache) and trains block 5 + head, as Train does.
Target: peak RSS <= 3 GB at 1000 photos.
"""

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_gb() -> float:
    """Peak resident set size of this process so far, in GB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def current_rss_gb() -> float:
    """Current resident set size, in GB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 1024**3


def make_loader(size: int):
    """Photos as arrays: a dominant colour per class plus noise, derived from the sha (no files needed)."""

    def load(sha: str) -> np.ndarray:
        index = int(sha, 16)
        rng = np.random.default_rng(index)
        tone = np.array([(220, 170, 40), (120, 35, 20)][index % 2], dtype=np.float32)
        return np.clip(tone + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)

    return load


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--epochs", type=int, default=None, help="default: the backbone's")
    parser.add_argument("--backbone", default="vgg16", choices=["vgg16", "mobilenet_v2"])
    args = parser.parse_args()
    from webapp.ml.backbone import get_backbone
    from webapp.ml.pipeline import TrainingJob, run_training
    from webapp.params import TrainParams

    root = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    get_backbone("none", args.size, root / "backbone", args.backbone)
    base = current_rss_gb()
    print(f"baseline (TensorFlow imported, backbone built): {base:.2f} GB")
    splits = ["train", "train", "train", "val", "test"]
    items = [(f"{i:064x}", i % 2, splits[(i // 2) % 5]) for i in range(args.n)]
    job = TrainingJob(
        weights_spec="none",
        image_size=args.size,
        backbone_dir=root / "backbone",
        feature_root=root / "features",
        model_dir=root / "model",
        labels=["beer", "wings"],
        items=items,
        params=TrainParams(epochs=args.epochs, backbone=args.backbone),
        load_image=make_loader(args.size),
    )
    start = time.perf_counter()
    result = run_training(job)
    peak = rss_gb()
    print(
        f"{args.backbone}, {args.n} photos, {args.size} px, {job.params.epochs} epochs: "
        f"{time.perf_counter() - start:.0f} s, "
        f"test accuracy {result.metrics['accuracy']:.3f}"
    )
    print(
        f"peak RSS {peak:.2f} GB = {peak / base:.1f}x the resting worker; target <= 3 GB: "
        f"{'OK' if peak <= 3 else 'OVER'}"
    )


if __name__ == "__main__":
    main()
