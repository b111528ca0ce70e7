"""The VGG16 backbone: weights from ImageNet, a local file or a seeded random file ("none"), and their id."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from webapp.ml._keras import keras
from webapp.ml.errors import WeightsUnavailable
from webapp.ml.preprocess import make_preprocess_layer

NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
NOTOP_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + NOTOP_FILE
# Convolution weights do not depend on the input size, so one random file serves every image size.
NONE_SEED = 16
NONE_FILE = f"vgg16-notop-random-seed{NONE_SEED}.weights.h5"
MIN_IMAGE_SIZE = 32

_hash_cache: dict[tuple[str, int, int], str] = {}


def spec_kind(weights_spec: str) -> str:
    """ "imagenet", "none" or "file" for a WEBAPP_BACKBONE_WEIGHTS value."""
    spec = str(weights_spec).strip()
    if spec.lower() == "imagenet":
        return "imagenet"
    if spec.lower() in ("none", "random"):
        return "none"
    if not spec:
        raise WeightsUnavailable("No backbone weights given: use imagenet, none or a path to a weights file.")
    return "file"


def weights_identity(weights_spec: str, backbone_dir: str | os.PathLike) -> str:
    """Short stable id of the weights: "imagenet", "file-<sha256[:12]>" or "none-<sha256[:12]>"."""
    kind = spec_kind(weights_spec)
    if kind == "imagenet":
        return "imagenet"
    path = none_weights_path(backbone_dir) if kind == "none" else _existing_file(weights_spec)
    return f"{kind}-{_sha256_prefix(path)}"


def build_vgg16(weights_spec: str, image_size: int, backbone_dir: str | os.PathLike) -> keras.Model:
    """VGG16(include_top=False) at image_size px with the given weights; WeightsUnavailable if they fail."""
    _check_size(image_size)
    kind = spec_kind(weights_spec)
    shape = (image_size, image_size, 3)
    if kind == "imagenet":
        return _imagenet_vgg16(shape)
    path = none_weights_path(backbone_dir) if kind == "none" else _existing_file(weights_spec)
    model = keras.applications.VGG16(weights=None, include_top=False, input_shape=shape)
    try:
        model.load_weights(str(path))
    except Exception as exc:
        raise WeightsUnavailable(
            f"Could not load VGG16 weights from {path}: it is not a VGG16 (include_top=False) Keras weights "
            f"file such as {NOTOP_FILE} ({type(exc).__name__}: {exc})."
        ) from exc
    return model


def _imagenet_vgg16(shape: tuple[int, int, int]) -> keras.Model:
    # Keras downloads the file once into ~/.keras/models/ and reuses it; offline, the download fails.
    try:
        return keras.applications.VGG16(weights="imagenet", include_top=False, input_shape=shape)
    except Exception as exc:
        raise WeightsUnavailable(
            f"Could not get the ImageNet weights for VGG16 ({type(exc).__name__}: {exc}). On a machine with "
            f"internet access, download {NOTOP_URL} and either set "
            f"WEBAPP_BACKBONE_WEIGHTS=/path/to/{NOTOP_FILE} or copy it into "
            f"{Path('~/.keras/models').expanduser()}/ ."
        ) from exc


def none_weights_path(backbone_dir: str | os.PathLike) -> Path:
    """The random-but-fixed weights file for "none", created (seeded) on first use and reused forever."""
    path = Path(backbone_dir) / NONE_FILE
    if not path.exists():
        _create_none_weights(path)
    return path


def _create_none_weights(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    model = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    rng = np.random.default_rng(NONE_SEED)
    model.set_weights([_glorot(rng, w.shape) for w in model.get_weights()])
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".weights.h5")
    os.close(fd)
    try:
        model.save_weights(tmp)
        # link() fails if another worker made the file first: the first file wins and everyone reads it.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _glorot(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Keras' default init (glorot uniform kernels, zero biases), from a numpy seed so the bytes are fixed."""
    if len(shape) == 1:
        return np.zeros(shape, dtype=np.float32)
    receptive = int(np.prod(shape[:-2]))
    limit = np.sqrt(6.0 / (receptive * (shape[-2] + shape[-1])))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def _existing_file(weights_spec: str) -> Path:
    path = Path(str(weights_spec).strip()).expanduser()
    if not path.is_file():
        raise WeightsUnavailable(
            f"The VGG16 weights file {path} does not exist. Set WEBAPP_BACKBONE_WEIGHTS to the path of "
            f"{NOTOP_FILE}, to imagenet (downloaded once) or to none (random weights, for tests)."
        )
    return path


def _sha256_prefix(path: Path, length: int = 12) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _hash_cache:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _hash_cache[key] = digest.hexdigest()
    return _hash_cache[key][:length]


def _check_size(image_size: int) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < MIN_IMAGE_SIZE:
        raise ValueError(
            f"image_size must be a whole number of at least {MIN_IMAGE_SIZE} (got {image_size!r})."
        )


@dataclass
class Backbone:
    """A loaded VGG16 whose layers are all frozen (trained layers are always fresh copies)."""

    model: keras.Model
    identity: str
    image_size: int
    preprocess: Any = field(default_factory=make_preprocess_layer)
    extractors: dict[int, Any] = field(default_factory=dict)

    @property
    def layers(self) -> list:
        """VGG16 layers without the input layer (18 of them)."""
        return self.model.layers[1:]


_BACKBONES: OrderedDict[tuple[str, int], Backbone] = OrderedDict()
_LOCK = threading.Lock()
MAX_CACHED_BACKBONES = 2


def get_backbone(weights_spec: str, image_size: int, backbone_dir: str | os.PathLike) -> Backbone:
    """The backbone for these weights and size, built once per process (a warm worker reuses it)."""
    identity = weights_identity(weights_spec, backbone_dir)
    key = (identity, image_size)
    with _LOCK:
        if key in _BACKBONES:
            _BACKBONES.move_to_end(key)
            return _BACKBONES[key]
        model = build_vgg16(weights_spec, image_size, backbone_dir)
        for layer in model.layers:
            layer.trainable = False
        _BACKBONES[key] = Backbone(model=model, identity=identity, image_size=image_size)
        while len(_BACKBONES) > MAX_CACHED_BACKBONES:
            _BACKBONES.popitem(last=False)
        return _BACKBONES[key]
