"""Choosing MobileNetV2's default settings: test accuracy of settings on photos of differently shaped objects.

    python benchmarks/bench_defaults.py --weights /path/to/mobilenet_v2_...no_top.h5 [--seeds 3] [--size 224]

Each class is one shape (disc, square, triangle, ...) drawn in random colours, sizes and places on random
backgrounds with clutter, so colour says nothing and only shape separates the classes. The workload is the
article's (per class 18 train, 6 validation photos); the test split is large (--test per class) so that
accuracies differ by more than one photo. Prints, per setting, the mean test accuracy over the seeds and the
training seconds, and how far apart the classes' mean features are (real weights vs "none").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHAPES = ["disc", "square", "triangle", "cross"]
SETTINGS = [  # (optimizer, learning rate, epochs, trainable layers)
    ("rmsprop", 1e-4, 5, 0),  # VGG16's recipe on the pooled head: underfits
    ("adam", 1e-3, 10, 0),
    ("adam", 1e-3, 20, 0),
    ("adam", 1e-3, 10, 3),
    ("adam", 1e-3, 5, 11),
    ("adam", 1e-3, 10, 11),
    ("adam", 1e-3, 20, 11),
    ("adam", 1e-4, 20, 11),
    ("adam", 1e-3, 10, 20),
]


def shape_photo(rng: np.random.Generator, label: int, size: int) -> np.ndarray:
    """An RGB array: a random background, clutter lines and one big shape of the class, randomly coloured."""
    scale = 4  # drawn large, then reduced: smooth edges as a camera gives
    side = size * scale
    top, bottom = rng.uniform(40, 220, 3), rng.uniform(40, 220, 3)
    ramp = np.linspace(0, 1, side, dtype=np.float32)[:, None, None]
    background = top * (1 - ramp) + bottom * ramp
    image = Image.fromarray(np.broadcast_to(background, (side, side, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        points = [tuple(int(v) for v in rng.integers(0, side, 2)) for _ in range(2)]
        draw.line(points, fill=tuple(int(v) for v in rng.integers(0, 256, 3)), width=int(rng.integers(2, 10)))
    r = side * rng.uniform(0.18, 0.32)
    cx, cy = rng.uniform(r, side - r, 2)
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    _draw_shape(draw, SHAPES[label], cx, cy, r, colour, rng.uniform(0, np.pi))
    noisy = np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
    return np.clip(noisy + rng.normal(0, 6, noisy.shape), 0, 255).astype(np.uint8)


def _draw_shape(draw, shape: str, cx: float, cy: float, r: float, colour, angle: float) -> None:
    if shape == "disc":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
        return
    if shape == "cross":
        w = r / 3
        for a in (angle, angle + np.pi / 2):
            dx, dy, nx, ny = np.cos(a) * r, np.sin(a) * r, -np.sin(a) * w, np.cos(a) * w
            corners = [(cx - dx + nx, cy - dy + ny), (cx + dx + nx, cy + dy + ny)]
            corners += [(cx + dx - nx, cy + dy - ny), (cx - dx - nx, cy - dy - ny)]
            draw.polygon(corners, fill=colour)
        return
    corners = 4 if shape == "square" else 3
    angles = angle + np.arange(corners) * 2 * np.pi / corners
    draw.polygon([(cx + r * np.cos(a), cy + r * np.sin(a)) for a in angles], fill=colour)


def photo_set(classes: int, per_split: dict[str, int], size: int, seed: int):
    """({sha-like key: image}, items (key, label, split)) for the article's split plus a big test split."""
    rng = np.random.default_rng(seed)
    images, items = {}, []
    for label in range(classes):
        for split, count in per_split.items():
            for _ in range(count):
                key = f"{len(images) + 1:02x}{seed:06x}".rjust(64, "0")
                images[key] = shape_photo(rng, label, size)
                items.append((key, label, split))
    return images, items


def separation(weights: str, size: int, root: Path, images: dict, items: list, name: str) -> float:
    """Distance between the classes' mean pooled features over the mean spread within a class."""
    from webapp.ml.backbone import get_backbone
    from webapp.ml.model import get_extractor

    extractor = get_extractor(get_backbone(weights, size, root / "backbone", name), 0)
    feats = extractor(np.stack([images[k] for k, _, _ in items]).astype(np.float32)).mean(axis=(1, 2))
    labels = np.array([label for _, label, _ in items])
    means = [feats[labels == k].mean(0) for k in sorted(set(labels))]
    spread = np.mean([feats[labels == k].std(0).mean() for k in sorted(set(labels))])
    gaps = [np.linalg.norm(a - b) for i, a in enumerate(means) for b in means[i + 1 :]]
    return float(np.mean(gaps) / spread)


def trial(args, root: Path, images: dict, items: list, setting, seed: int) -> tuple[float, float]:
    """(test accuracy, training seconds) of one setting on one photo set."""
    from webapp.ml.pipeline import TrainingJob, run_training
    from webapp.params import TrainParams

    optimizer, lr, epochs, trainable = setting
    params = TrainParams(backbone="mobilenet_v2", optimizer=optimizer, learning_rate=lr, epochs=epochs,
                         trainable_layers=trainable, seed=seed)  # fmt: skip
    labels = SHAPES[: args.classes]
    job = TrainingJob(args.weights, args.size, root / "backbone", root / "features", root / "models" / "x",
                      labels, items, params, images.__getitem__)  # fmt: skip
    result = run_training(job)
    return result.metrics["accuracy"], result.timings["training"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True, help="a MobileNetV2 weights file (or imagenet)")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--test", type=int, default=60, help="test photos per class")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-defaults-"))
    scores: dict[tuple, list] = {s: [] for s in SETTINGS}
    for seed in range(args.seeds):
        images, items = photo_set(args.classes, {"train": 18, "val": 6, "test": args.test}, args.size, seed)
        if seed == 0:
            for weights in (args.weights, "none"):
                gap = separation(weights, args.size, root, images, items, "mobilenet_v2")
                print(f"class separation (gap of class means / spread), weights {weights}: {gap:.2f}")
        for setting in SETTINGS:
            scores[setting].append(trial(args, root, images, items, setting, seed))
            print(f"seed {seed} {setting}: test accuracy {scores[setting][-1][0]:.3f}", flush=True)
    print(f"\n{args.classes} classes, {args.seeds} photo sets, {args.test * args.classes} test photos each")
    for setting, runs in scores.items():
        acc, secs = np.mean([a for a, _ in runs]), np.mean([s for _, s in runs])
        print(f"{setting[0]:>8} lr {setting[1]:<7g} {setting[2]:>3} epochs {setting[3]:>3} trainable: "
              f"accuracy {acc:.3f} (min {min(a for a, _ in runs):.3f})  training {secs:.1f} s")  # fmt: skip


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - start:.0f} s")
