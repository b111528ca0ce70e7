"""Write run artifacts atomically (temp name in the same folder, then os.replace) and export TFLite."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from webapp.ml._keras import keras, tf

MODEL_FILE = "model.keras"
LABELS_FILE = "labels.json"
INFO_FILE = "model_info.json"
CURVES_FILE = "learning_curves.png"
TFLITE_FILE = "model.tflite"


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None], suffix: str = "") -> Path:
    """Call write(tmp_path), flush it to disk, then rename tmp over path: readers never see half a file.

    A failure (a full disk, an exception) leaves the previous file, if any, and no temp file. After kill -9
    the temp file stays; it goes with the run's folder when the run is failed as dead.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=suffix or path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        _fsync(tmp)  # the bytes are on disk before the name points at them (a power cut, not only kill -9)
        os.replace(tmp, path)
        _fsync(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _fsync(path: str | os.PathLike) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_model(model: keras.Model, path: str | os.PathLike) -> Path:
    """model.save() to a temp .keras file, then rename it into place."""
    return atomic_write(path, lambda tmp: model.save(tmp), suffix=".keras")


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """JSON file written atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2), encoding="utf-8"))


def read_json(path: str | os.PathLike) -> Any:
    """Parsed JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


TFLITE_QUANTISED_FILE = "model-int8.tflite"


def export_tflite(model_path: str | os.PathLike, out_path: str | os.PathLike, quantise: bool = False) -> Path:
    """Convert a saved .keras model to a TFLite flatbuffer (raw RGB input), written atomically.

    quantise=True: 8-bit dynamic-range quantisation (weights stored as int8, about 4x smaller; inputs and
    outputs stay float32). Without it the weights stay float32.
    """
    model = keras.saving.load_model(model_path, compile=False)
    with tempfile.TemporaryDirectory(prefix="tflite-") as tmp:
        # Through a SavedModel: the supported route for Keras 3 models, and quiet with verbose=False.
        model.export(tmp, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        if quantise:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]  # no representative data: dynamic range
        flatbuffer = converter.convert()
    return atomic_write(out_path, lambda p: p.write_bytes(flatbuffer))
