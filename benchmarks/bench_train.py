"""Training time: the article's pipeline (Keras 3 port) vs webapp.ml (cached features), in one process.

    python benchmarks/bench_train.py [--n 60] [--size 224] [--weights none|imagenet|/path.h5]
    python benchmarks/bench_train.py --backbone mobilenet_v2 --weights /path/mobilenet_v2...h5


Both sides use the same backbone weights, architecture and hyperparameters (RMSprop 1e-4, batch 32, the last
4 VGG16 layers trained). Importing TensorFlow and building the models happen once, as in a warm worker, and
are printed but kept out of the per-run times. Phases: 5 epochs (ours cold = features computed at Train,
ours warm = features cached), 10 epochs (per-epoch time), and a retrain after adding photos.

With --backbone mobilenet_v2, ours is MobileNetV2 with its own defaults (webapp/params.py) against the same
article VGG16 pipeline (weights --article-weights), then the TFLite sizes: see mobilenet_phases.py.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LABELS = ["beer", "wings"]
COLOURS = [(235, 185, 35), (125, 30, 15)]  # golden beer, dark red-brown wings


def phone_photo(rng: np.random.Generator, label: int, width: int = 1024, height: int = 768) -> bytes:
    """A JPEG that looks vaguely like a phone shot: gradient, noise, a few blobs of the class colour."""
    x = np.arange(width, dtype=np.float32)[None, :].repeat(height, axis=0)
    background = rng.uniform(90, 160, 3) * (0.7 + 0.3 * (x / width))[..., None]
    image = Image.fromarray(
        np.clip(background + rng.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8)
    )
    draw = ImageDraw.Draw(image)
    # Random weights ("none") only separate classes whose colours dominate the frame: big blobs.
    for _ in range(rng.integers(4, 8)):
        cx, cy, r = rng.integers(0, width), rng.integers(0, height), rng.integers(150, 320)
        colour = tuple(int(c + rng.normal(0, 15)) for c in COLOURS[label])
        shape = draw.ellipse if label == 0 else draw.rectangle
        shape((cx - r, cy - r * 1.4, cx + r, cy + r * 1.4), fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def make_photos(root: Path, n: int, seed: int = 0, start: int = 0) -> list[tuple[str, int, Path]]:
    """n JPEGs (half per class) stored by sha256 under root/photos: [(sha, label, path)]."""
    rng = np.random.default_rng(seed)
    (root / "photos").mkdir(parents=True, exist_ok=True)
    photos = []
    for i in range(start, start + n):
        data = phone_photo(rng, i % 2)
        sha = hashlib.sha256(data).hexdigest()
        path = root / "photos" / f"{sha}.jpg"
        path.write_bytes(data)
        photos.append((sha, i % 2, path))
    return photos


def assign_splits(photos, held_out: int = 6) -> list[tuple[str, int, str]]:
    """The article's split: per class `held_out` photos for val and for test, the rest train."""
    items, seen = [], {0: 0, 1: 0}
    for sha, label, _ in photos:
        k = seen[label]
        seen[label] += 1
        items.append((sha, label, "val" if k < held_out else "test" if k < 2 * held_out else "train"))
    return items


def article_folders(root: Path, photos, items) -> Path:
    """root/article/{train,val,test}/{beer,wings}/ hard links, as the article's mkdir/shuf/mv made."""
    base = root / "article"
    shutil.rmtree(base, ignore_errors=True)
    paths = {sha: path for sha, _, path in photos}
    for sha, label, split in items:
        folder = base / split / LABELS[label]
        folder.mkdir(parents=True, exist_ok=True)
        os.link(paths[sha], folder / paths[sha].name)
    return base


def image_loader(paths: dict[str, Path], size: int):
    """load_image(sha) for webapp.ml: decode, apply EXIF orientation, RGB, resize."""

    def load(sha: str) -> np.ndarray:
        with Image.open(paths[sha]) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
            return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR))

    return load


def rss_mb() -> float:
    """Peak resident set size of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class EpochTimes:
    """Wall-clock time at each epoch end, for per-epoch figures."""

    def __init__(self):
        self.start = time.perf_counter()
        self.ends: list[float] = []

    def mark(self, *args) -> None:
        self.ends.append(time.perf_counter())

    def spans(self) -> np.ndarray:
        """Seconds of each epoch (the first includes tracing the training graph)."""
        return np.diff([self.start, *self.ends])

    def per_epoch(self) -> tuple[float, float]:
        """(mean over all epochs, median of epochs 2..n: without the first epoch's graph tracing)."""
        spans = self.spans()
        return float(spans.mean()), float(statistics.median(spans[1:] if len(spans) > 1 else spans))


class Article:
    """The article's pipeline ported to Keras 3 (image_dataset_from_directory + fit), raw pixels in."""

    def __init__(self, weights: str, size: int, backbone_dir: Path):
        self.weights, self.size, self.backbone_dir = weights, size, backbone_dir

    def build(self):
        """VGG16 + Flatten/Dense(1024)/Dropout/Dense(2), last 4 VGG16 layers trainable (outside timing)."""
        from webapp.ml._keras import keras
        from webapp.ml.backbone import build_vgg16

        vgg16 = build_vgg16(self.weights, self.size, self.backbone_dir)
        for layer in vgg16.layers[:-4]:
            layer.trainable = False
        model = keras.Sequential(
            [
                keras.Input((self.size, self.size, 3)),
                vgg16,
                keras.layers.Flatten(),
                keras.layers.Dense(1024, activation="relu"),
                keras.layers.Dropout(0.5),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile(
            loss="categorical_crossentropy",
            optimizer=keras.optimizers.RMSprop(learning_rate=1e-4),
            metrics=["acc"],
        )
        return model

    def run(self, model, folders: Path, epochs: int) -> dict:
        """Datasets from the folders, fit, predict one test batch (as the article judged it)."""
        from webapp.ml._keras import keras

        start = time.perf_counter()
        load = dict(
            image_size=(self.size, self.size), label_mode="categorical", class_names=LABELS, batch_size=32
        )
        train = keras.utils.image_dataset_from_directory(folders / "train", seed=0, verbose=False, **load)
        val = keras.utils.image_dataset_from_directory(folders / "val", shuffle=False, verbose=False, **load)
        test = keras.utils.image_dataset_from_directory(folders / "test", verbose=False, **load)
        times = EpochTimes()
        fit_start = time.perf_counter()
        # fit(shuffle=True) is the default; the dataset is already shuffled (warns "ignored").
        model.fit(
            train,
            shuffle=False,
            epochs=epochs,
            validation_data=val,
            verbose=0,
            callbacks=[epoch_marker(times.mark)],
        )
        fit_time = time.perf_counter() - fit_start
        test_imgs, test_labels = next(iter(test))
        predictions = model.predict(test_imgs, verbose=0)
        accuracy = float(np.mean(predictions.argmax(1) == np.asarray(test_labels).argmax(1)))
        return {"time": time.perf_counter() - start, "fit": fit_time, "epochs": times, "accuracy": accuracy}


def epoch_marker(callback):
    """A Keras callback calling callback() at each epoch end."""
    from webapp.ml._keras import keras

    return keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: callback())


class Ours:
    """webapp.ml.pipeline.run_training on the same photos."""

    def __init__(self, args, root: Path, backbone: str = "vgg16"):
        self.args, self.root, self.backbone = args, root, backbone

    def run(self, items, paths, epochs: int | None) -> dict:
        """One run_training (epochs None: the backbone's default)."""
        from webapp.ml.pipeline import NullProgress, TrainingJob, run_training
        from webapp.params import TrainParams

        times = EpochTimes()

        class Progress(NullProgress):
            def stage(self, name: str) -> None:
                if name == "training":
                    times.start = time.perf_counter()

            def epoch(self, epoch, logs) -> None:
                times.mark()

        job = TrainingJob(
            self.args.weights, self.args.size, self.root / "backbone", self.root / "features",
            self.root / "models" / "run", LABELS, items, TrainParams(epochs=epochs, backbone=self.backbone),
            image_loader(paths, self.args.size),
        )  # fmt: skip
        start = time.perf_counter()
        result = run_training(job, Progress())
        return {
            "time": time.perf_counter() - start, "epochs": times, "accuracy": result.metrics["accuracy"],
            "timings": result.timings, "computed": result.features_computed,
        }  # fmt: skip


def report(name: str, ours: dict, article: dict, target: float) -> None:
    ratio = ours["time"] / article["time"]
    verdict = "ok" if ratio <= target else "MISSED"
    print(
        f"{name:<28} ours {ours['time']:7.1f} s   article {article['time']:7.1f} s   ratio {ratio:.3f}x "
        f"(target <= {target}x: {verdict})   test acc ours {ours['accuracy']:.2f} / article "
        f"{article['accuracy']:.2f}   peak RSS {rss_mb():.0f} MB"
    )
    stages = ", ".join(f"{k} {v:.1f}" for k, v in ours["timings"].items())
    print(f"{'':<28} ours by stage (s): {stages}; features computed: {ours['computed']}")
    for who, run in (("ours", ours), ("article", article)):
        spans = " ".join(f"{v:.1f}" for v in run["epochs"].spans())
        print(f"{'':<28} {who} epochs (s): {spans}")
    rest = article["time"] - article["fit"]
    print(f"{'':<28} article: fit {article['fit']:.1f} s + datasets and test batch {rest:.1f} s")


def report_epochs(ours: dict, article: dict, target: float) -> None:
    (ours_mean, ours_med), (art_mean, art_med) = ours["epochs"].per_epoch(), article["epochs"].per_epoch()
    verdict = "ok" if ours_med / art_med <= target else "MISSED"
    print(
        f"{'per epoch (10-epoch runs)':<28} ours {ours_med:5.2f} s (mean {ours_mean:.2f})   "
        f"article {art_med:5.2f} s (mean {art_mean:.2f})   ratio {ours_med / art_med:.2f}x "
        f"(mean {ours_mean / art_mean:.2f}x; "
        f"target <= {target}x: {verdict})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="photos (half per class)")
    parser.add_argument("--size", type=int, default=224, help="model input side in pixels")
    parser.add_argument("--weights", default="none", help="imagenet, none, a weights file or a folder")
    parser.add_argument("--backbone", default="vgg16", choices=["vgg16", "mobilenet_v2"])
    parser.add_argument(
        "--article-weights", default="none", help="the article's VGG16 (--backbone mobilenet_v2)"
    )
    parser.add_argument("--add", type=int, default=10, help="photos added before the retrain")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-train-"))
    try:
        if args.backbone == "mobilenet_v2":
            from mobilenet_phases import bench_mobilenet

            bench_mobilenet(args, root, sys.modules[__name__])
        else:
            bench(args, root)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def bench(args, root: Path) -> None:
    start = time.perf_counter()
    from webapp.ml.backbone import get_backbone

    print(f"import TensorFlow/Keras: {time.perf_counter() - start:.1f} s; peak RSS {rss_mb():.0f} MB")
    photos = make_photos(root, args.n)
    items, paths = assign_splits(photos), {sha: path for sha, _, path in photos}
    print(f"{args.n} photos 1024x768 JPEG -> {args.size} px, weights {args.weights}, {os.cpu_count()} CPUs")
    start = time.perf_counter()
    get_backbone(args.weights, args.size, root / "backbone")
    print(f"backbone build (once per worker): {time.perf_counter() - start:.1f} s")
    article, ours = Article(args.weights, args.size, root / "backbone"), Ours(args, root)
    folders = article_folders(root, photos, items)
    five = {"cold": ours.run(items, paths, 5), "warm": ours.run(items, paths, 5)}
    start = time.perf_counter()
    model = article.build()
    print(f"article model build (outside the timed runs): {time.perf_counter() - start:.1f} s")
    base = article.run(model, folders, 5)
    report("5 epochs, cold features", five["cold"], base, 0.55)
    report("5 epochs, warm features", five["warm"], base, 0.35)
    ten = ours.run(items, paths, 10)
    base10 = article.run(article.build(), folders, 10)
    report("10 epochs, warm features", ten, base10, 1.0)
    report_epochs(ten, base10, 0.3)
    more = make_photos(root, args.add, seed=1, start=args.n)
    items += [(sha, label, "train") for sha, label, _ in more]
    paths.update({sha: path for sha, _, path in more})
    retrain = ours.run(items, paths, 5)
    base_more = article.run(article.build(), article_folders(root, photos + more, items), 5)
    report(f"retrain after +{args.add} photos", retrain, base_more, 0.4)
    print(f"peak RSS of the whole benchmark process: {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
