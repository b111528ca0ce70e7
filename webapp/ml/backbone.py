"""The backbones (VGG16, MobileNetV2): weights from ImageNet, a local file or a seeded random file ("none"),
their identity, and one loaded copy per process."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from webapp.ml._keras import keras
from webapp.ml.errors import WeightsUnavailable
from webapp.ml.preprocess import make_preprocess_layer
from webapp.ml.weights import (
    KERAS_FILES,
    TITLES,
    file_identity,
    load_weights_file,
    sha256_prefix,
    weights_file,
)
from webapp.ml.weights import spec_kind as spec_kind
from webapp.params import BACKBONES, DEFAULT_BACKBONE, IMAGENET_URLS, UPLOADED_WEIGHTS_DIR

NOTOP_FILE = KERAS_FILES["vgg16"]
URLS = {name: url.rsplit("/", 1)[0] + "/" for name, url in IMAGENET_URLS.items()}
NOTOP_URL = IMAGENET_URLS["vgg16"]
CONSTRUCTORS = {"vgg16": "VGG16", "mobilenet_v2": "MobileNetV2"}
# Convolution weights do not depend on the input size, so one random file serves every image size.
NONE_SEEDS = {"vgg16": 16, "mobilenet_v2": 2}
NONE_FILES = {
    "vgg16": f"vgg16-notop-random-seed{NONE_SEEDS['vgg16']}.weights.h5",
    "mobilenet_v2": f"mobilenet_v2-notop-random-seed{NONE_SEEDS['mobilenet_v2']}.weights.h5",
}
NONE_SEED, NONE_FILE = NONE_SEEDS["vgg16"], NONE_FILES["vgg16"]
MIN_IMAGE_SIZE = 32


def weights_identity(weights_spec: str, backbone_dir: str | os.PathLike, name: str = DEFAULT_BACKBONE) -> str:
    """Short stable id of the weights: "imagenet", "file-<sha256[:12]>" or "none-<sha256[:12]>"."""
    kind = spec_kind(weights_spec)
    if kind == "imagenet":
        uploaded = uploaded_weights_path(backbone_dir, name)
        return file_identity(uploaded) if uploaded.is_file() else "imagenet"
    if kind == "none":
        return f"none-{sha256_prefix(none_weights_path(backbone_dir, name))}"
    return file_identity(weights_file(weights_spec, name))


def _constructor(name: str):
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}: use one of {', '.join(BACKBONES)}.")
    return getattr(keras.applications, CONSTRUCTORS[name])


def _blank(name: str, shape: tuple[int, int, int]) -> keras.Model:
    return _constructor(name)(weights=None, include_top=False, input_shape=shape)


def build_backbone(
    name: str, weights_spec: str, image_size: int, backbone_dir: str | os.PathLike
) -> keras.Model:
    """The backbone (no top) at image_size px with the given weights; WeightsUnavailable if they fail."""
    _check_size(image_size)
    kind = spec_kind(weights_spec)
    shape = (image_size, image_size, 3)
    uploaded = uploaded_weights_path(backbone_dir, name)
    if kind == "imagenet" and not uploaded.is_file():
        return _imagenet(name, shape)
    if kind == "imagenet":
        path = uploaded  # an admin uploaded the file Keras would download
    elif kind == "none":
        path = none_weights_path(backbone_dir, name)
    else:
        path = weights_file(weights_spec, name)
    model = _blank(name, shape)
    load_weights_file(model, path, name)
    return model


def build_vgg16(weights_spec: str, image_size: int, backbone_dir: str | os.PathLike) -> keras.Model:
    """VGG16(include_top=False) at image_size px with the given weights; WeightsUnavailable if they fail."""
    return build_backbone("vgg16", weights_spec, image_size, backbone_dir)


def _imagenet(name: str, shape: tuple[int, int, int]) -> keras.Model:
    # Keras downloads the file once into ~/.keras/models/ and reuses it; offline, the download fails.
    try:
        with warnings.catch_warnings():
            # MobileNetV2 warns that sizes other than 96-224 get the 224 px weights: that is what we want.
            warnings.filterwarnings("ignore", message=".*will be loaded as the default", category=UserWarning)
            return _constructor(name)(weights="imagenet", include_top=False, input_shape=shape)
    except Exception as exc:
        raise WeightsUnavailable(
            f"Could not get the ImageNet weights for {TITLES[name]} ({type(exc).__name__}: {exc}). On a "
            f"machine with internet access, download {URLS[name]}{KERAS_FILES[name]} and either set "
            f"WEBAPP_BACKBONE_WEIGHTS to that file (or to a folder holding it) or copy it into "
            f"{Path('~/.keras/models').expanduser()}/ , or upload it on the Train page."
        ) from exc


def uploaded_weights_path(backbone_dir: str | os.PathLike, name: str) -> Path:
    """Where an admin's uploaded ImageNet weights file lives; used before Keras' download when it exists."""
    return Path(backbone_dir) / Path(UPLOADED_WEIGHTS_DIR).name / KERAS_FILES[name]


def none_weights_path(backbone_dir: str | os.PathLike, name: str = DEFAULT_BACKBONE) -> Path:
    """The random-but-fixed weights file for "none", created (seeded) on first use and reused forever."""
    path = Path(backbone_dir) / NONE_FILES[name]
    if not path.exists():
        _create_none_weights(path, name)
    return path


def _create_none_weights(path: Path, name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    model = _random_vgg16() if name == "vgg16" else _random_mobilenet_v2()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".weights.h5")
    os.close(fd)
    try:
        model.save_weights(tmp)
        # link() fails if another worker made the file first: the first file wins and everyone reads it.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _random_vgg16() -> keras.Model:
    model = _blank("vgg16", (32, 32, 3))
    rng = np.random.default_rng(NONE_SEEDS["vgg16"])
    model.set_weights([_glorot(rng, w.shape) for w in model.get_weights()])
    return model


def _glorot(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Keras' default init (glorot uniform kernels, zero biases), from a numpy seed so the bytes are fixed."""
    if len(shape) == 1:
        return np.zeros(shape, dtype=np.float32)
    receptive = int(np.prod(shape[:-2]))
    limit = np.sqrt(6.0 / (receptive * (shape[-2] + shape[-1])))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def _random_mobilenet_v2() -> keras.Model:
    """He-uniform kernels, then batch-norm statistics measured on seeded noise images.

    Without measured statistics the signal shrinks through 52 convolutions to ~1e-9 and every photo gets the
    same features; with them each layer's output is normalised, as in a trained network, and colours separate.
    """
    model = _blank("mobilenet_v2", (64, 64, 3))
    rng = np.random.default_rng(NONE_SEEDS["mobilenet_v2"])
    model.set_weights([_he_or_neutral(rng, v.path.rsplit("/", 1)[-1], tuple(v.shape)) for v in model.weights])
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momentum = norms[0].momentum
    for layer in norms:
        layer.momentum = 0.0  # one training-mode pass stores exactly this batch's statistics
    model(rng.uniform(-1, 1, (32, 64, 64, 3)).astype(np.float32), training=True)
    for layer in norms:
        layer.momentum = momentum
    return model


def _he_or_neutral(rng: np.random.Generator, var: str, shape: tuple[int, ...]) -> np.ndarray:
    if var in ("gamma", "moving_variance"):
        return np.ones(shape, dtype=np.float32)
    if var in ("beta", "moving_mean", "bias"):
        return np.zeros(shape, dtype=np.float32)
    # kernel (h, w, in, out) or depthwise_kernel (h, w, channels, 1): fan-in = h * w * (in or 1)
    fan_in = int(np.prod(shape[:2])) * (shape[2] if var == "kernel" else 1)
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def _check_size(image_size: int) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < MIN_IMAGE_SIZE:
        raise ValueError(
            f"image_size must be a whole number of at least {MIN_IMAGE_SIZE} (got {image_size!r})."
        )


@dataclass
class Backbone:
    """A loaded backbone whose layers are all frozen (trained layers are always fresh copies)."""

    model: keras.Model
    identity: str
    image_size: int
    name: str = DEFAULT_BACKBONE
    preprocess: Any = None
    extractors: dict[int, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.preprocess is None:
            self.preprocess = make_preprocess_layer(self.name)

    @property
    def layers(self) -> list:
        """The backbone's layers without the input layer (18 for VGG16, 153 for MobileNetV2)."""
        return self.model.layers[1:]


_BACKBONES: OrderedDict[tuple[str, str, int], Backbone] = OrderedDict()
_LOCK = threading.Lock()
MAX_CACHED_BACKBONES = 2


def get_backbone(
    weights_spec: str, image_size: int, backbone_dir: str | os.PathLike, name: str = DEFAULT_BACKBONE
) -> Backbone:
    """The backbone for these weights and size, built once per process (a warm worker reuses it)."""
    identity = weights_identity(weights_spec, backbone_dir, name)
    key = (name, identity, image_size)
    with _LOCK:
        if key in _BACKBONES:
            _BACKBONES.move_to_end(key)
            return _BACKBONES[key]
        model = build_backbone(name, weights_spec, image_size, backbone_dir)
        for layer in model.layers:
            layer.trainable = False
        _BACKBONES[key] = Backbone(model=model, identity=identity, image_size=image_size, name=name)
        while len(_BACKBONES) > MAX_CACHED_BACKBONES:
            _BACKBONES.popitem(last=False)
        return _BACKBONES[key]
