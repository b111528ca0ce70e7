"""The phases `bench_train.py --backbone mobilenet_v2` runs: MobileNetV2 (its defaults) against the article's
VGG16 pipeline in the same process, then the TFLite files (float and 8-bit dynamic-range quantised)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

COLD, WARM = 0.1, 0.03  # targets: ours / the article's, Train-click to model
TFLITE_MB, QUANTISED_MB, AGREEMENT = 10, 4, 0.95


def bench_mobilenet(args, root: Path, bt) -> None:
    """Cold and warm runs against the article's, a retrain, then the TFLite files of two runs."""
    against_the_article(args, root, bt)
    tflite_on_shapes(args, root)


def against_the_article(args, root: Path, bt) -> None:
    """Cold, warm and retrain times of MobileNetV2 over the article's VGG16 pipeline; TFLite of the run.

    bt: the bench_train module (photos, loaders, the article's pipeline, report helpers)."""
    from webapp.ml.backbone import get_backbone

    photos = bt.make_photos(root, args.n)
    items, paths = bt.assign_splits(photos), {sha: path for sha, _, path in photos}
    print(f"{args.n} photos 1024x768 JPEG -> {args.size} px; MobileNetV2 weights {args.weights}, "
          f"the article's VGG16 weights {args.article_weights}")  # fmt: skip
    start = time.perf_counter()
    get_backbone(args.weights, args.size, root / "backbone", "mobilenet_v2")
    print(f"MobileNetV2 backbone build (once per worker): {time.perf_counter() - start:.1f} s")
    ours = bt.Ours(args, root, backbone="mobilenet_v2")
    runs = {"cold": ours.run(items, paths, None), "warm": ours.run(items, paths, None)}
    print(f"peak RSS so far (MobileNetV2 only, as a worker that never trained VGG16): {bt.rss_mb():.0f} MB")
    article = bt.Article(args.article_weights, args.size, root / "backbone")
    start = time.perf_counter()
    model = article.build()
    print(f"article model build (outside the timed runs): {time.perf_counter() - start:.1f} s")
    base = article.run(model, bt.article_folders(root, photos, items), 5)
    bt.report("MobileNetV2, cold features", runs["cold"], base, COLD)
    bt.report("MobileNetV2, warm features", runs["warm"], base, WARM)
    more = bt.make_photos(root, args.add, seed=1, start=args.n)
    items += [(sha, label, "train") for sha, label, _ in more]
    paths.update({sha: path for sha, _, path in more})
    retrain = ours.run(items, paths, None)
    print(f"retrain after +{args.add} photos: {retrain['time']:.1f} s ({retrain['computed']} features "
          f"computed, {retrain['time'] / base['time']:.3f}x the article's 5-epoch run)")  # fmt: skip
    print("TFLite of the run above (two colours of blobs: the model is sure of every photo):")
    tflite_sizes(
        root / "models" / "run" / "model.keras", [bt.image_loader(paths, args.size)(s) for s in paths]
    )


def tflite_on_shapes(args, root: Path) -> None:
    """The TFLite check again on a harder task (four shapes in random colours, bench_defaults.py), where the
    model is not sure of every photo, so rounding the weights to 8 bits has something to change."""
    from bench_defaults import SHAPES, photo_set

    from webapp.ml.pipeline import TrainingJob, run_training
    from webapp.params import TrainParams

    images, items = photo_set(4, {"train": 18, "val": 6, "test": 40}, args.size, seed=7)
    folders = root / "backbone", root / "features", root / "models" / "shapes"
    params = TrainParams(backbone="mobilenet_v2")
    result = run_training(TrainingJob(args.weights, args.size, *folders, SHAPES, items, params, images.get))
    accuracy = result.metrics["accuracy"]
    print(f"TFLite of a four-shape run (test accuracy {accuracy:.3f}), on its 160 test photos:")
    tflite_sizes(result.model_path, [images[key] for key, _, split in items if split == "test"])


def tflite_sizes(model_path: Path, images: list[np.ndarray]) -> None:
    """Sizes of the float and the quantised TFLite files; how often the quantised one picks the same class."""
    from webapp.ml.artifacts import export_tflite

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        plain = export_tflite(model_path, Path(tmp) / "model.tflite")
        took = time.perf_counter() - start
        small = export_tflite(model_path, Path(tmp) / "model-int8.tflite", quantise=True)
        mb = {name: path.stat().st_size / 1024**2 for name, path in (("float", plain), ("int8", small))}
        a, b = tflite_predict(plain, images), tflite_predict(small, images)
    agree = float((a.argmax(1) == b.argmax(1)).mean())
    ok = {
        name: "ok" if mb[name] < limit else "MISSED"
        for name, limit in (("float", TFLITE_MB), ("int8", QUANTISED_MB))
    }
    print(
        f"model.keras {model_path.stat().st_size / 1024**2:.1f} MB; TFLite {mb['float']:.1f} MB (target < "
        f"{TFLITE_MB}: {ok['float']}, converted in {took:.1f} s); quantised {mb['int8']:.1f} MB "
        f"(target < {QUANTISED_MB}: {ok['int8']})"
    )
    print(f"quantised vs float TFLite: same class on {agree:.1%} of {len(images)} photos (target >= "
          f"{AGREEMENT:.0%}: {'ok' if agree >= AGREEMENT else 'MISSED'}); largest probability difference "
          f"{np.abs(a - b).max():.3f}")  # fmt: skip


def tflite_predict(path: Path, images: list[np.ndarray]) -> np.ndarray:
    """Class probabilities of each image with a TFLite file."""
    from webapp.ml._keras import tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    rows = []
    for image in images:
        interpreter.set_tensor(inp["index"], image[None].astype(np.float32))
        interpreter.invoke()
        rows.append(interpreter.get_tensor(out["index"])[0])
    return np.array(rows)
