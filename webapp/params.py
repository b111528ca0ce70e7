"""Hyperparameters of a run, validated the same way by the web side (a Train request) and the worker.

Each backbone has its own defaults; a value left out (or None) takes the chosen backbone's default.

- vgg16: the article's recipe: 5 epochs, batch 32, RMSprop at 1e-4, the last 4 layers (block5) trained on top
  of a Flatten -> Dense(1024) head.
- mobilenet_v2: the keras-io transfer-learning guide's reasoning. Its head (global average pooling, dropout,
  one softmax Dense) is small and starts from nothing, so it gets the guide's optimizer for a new head, Adam
  at 1e-3, and 10 epochs: RMSprop at 1e-4 for 5 epochs leaves it underfit (34 % on four shapes, below).
  With 20-60 photos the guide keeps the pretrained part frozen and fine-tunes only its top; the default
  trains the last layer group, Conv_1 (the 1x1 convolution to the 1280 features) with its batch norm and
  ReLU: 3 layers. The whole top block (block_16 + Conv_1: trainable_layers=11) or more is a choice away;
  batch normalisation always stays in inference mode, as the guide requires when unfreezing.
  Measured with benchmarks/bench_defaults.py (real ImageNet features, four shapes in random colours, the
  article's 18 training photos per class, 3 photo sets, 480 test photos): RMSprop 1e-4 5 epochs head only
  34.4 %; Adam 1e-3 10 epochs head only 93.1 %, 20 epochs 96.7 %; Adam 1e-3 10 epochs, 3 layers 98.7 %
  (1.2 s of training), 11 layers 97.9 % (2.9 s), 20 epochs 11 layers 98.5 % (5.5 s); Adam 1e-4 20 epochs
  11 layers 99.0 % (4.3 s).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

BACKBONES = ("vgg16", "mobilenet_v2")
BACKBONE_TITLES = {"vgg16": "VGG16", "mobilenet_v2": "MobileNetV2"}
# The ImageNet weights files (no top) Keras downloads once per machine, under these names, of these sizes.
IMAGENET_FILES = {
    "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "mobilenet_v2": "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
}
IMAGENET_BYTES = {"vgg16": 58_889_256, "mobilenet_v2": 9_406_464}
IMAGENET_URLS = {
    name: f"https://storage.googleapis.com/tensorflow/keras-applications/{name}/{file}"
    for name, file in IMAGENET_FILES.items()
}
# An admin may upload that file (downloaded elsewhere) into instance/<UPLOADED_WEIGHTS_DIR>/ under its name.
UPLOADED_WEIGHTS_DIR = "backbone/imagenet"
DEFAULT_BACKBONE = "vgg16"
OPTIMIZERS = ("rmsprop", "adam")
# Layers of VGG16(include_top=False) that hold computation: 13 convolutions + 5 poolings (the input layer
# is not counted). trainable_layers=4 is the article's block5_conv1..3 + block5_pool.
VGG16_LAYERS = 18
# MobileNetV2(include_top=False) has 153 layers after its input. Its residual blocks have two paths, so the
# frozen part may only end where one tensor crosses into the trained part: anywhere outside a residual block
# (tests/ml/test_ml_mobilenet.py checks this list against Keras' model).
MOBILENET_V2_LAYERS = 153
_MOBILENET_V2_SPANS = (
    (0, 11), (20, 20), (29, 38), (47, 47), (56, 64), (73, 73), (82, 82), (91, 100), (109, 109),
    (118, 127), (136, 153),
)  # fmt: skip
MOBILENET_V2_CUTS = tuple(n for low, high in _MOBILENET_V2_SPANS for n in range(low, high + 1))
TRAINABLE_CHOICES = {"vgg16": tuple(range(VGG16_LAYERS + 1)), "mobilenet_v2": MOBILENET_V2_CUTS}
BACKBONE_DEFAULTS: dict[str, dict[str, Any]] = {
    "vgg16": {
        "epochs": 5, "batch_size": 32, "learning_rate": 1e-4, "trainable_layers": 4, "optimizer": "rmsprop",
    },
    "mobilenet_v2": {
        "epochs": 10, "batch_size": 32, "learning_rate": 1e-3, "trainable_layers": 3, "optimizer": "adam",
    },
}  # fmt: skip


@dataclass(frozen=True)
class TrainParams:
    """A run's settings; None (the default) takes the backbone's default (the article's, for VGG16)."""

    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    trainable_layers: int | None = None
    optimizer: str | None = None
    backbone: str = DEFAULT_BACKBONE
    seed: int = 0

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {', '.join(BACKBONES)} (got {self.backbone!r}).")
        for name, value in BACKBONE_DEFAULTS[self.backbone].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        _check_int("epochs", self.epochs, 1, 200)
        _check_int("batch_size", self.batch_size, 1, 512)
        _check_trainable(self.backbone, self.trainable_layers)
        _check_int("seed", self.seed, 0, 2**31 - 1)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)} (got {self.optimizer!r}).")
        lr = self.learning_rate
        if (
            isinstance(lr, bool)
            or not isinstance(lr, int | float)
            or not math.isfinite(lr)
            or not 0 < lr <= 1
        ):
            raise ValueError(f"learning_rate must be a number above 0 and at most 1 (got {lr!r}).")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TrainParams:
        """Build from a request/DB dict; unknown keys are an error, missing keys take the defaults.

        A stored run without "backbone" (made before there was a choice) is a VGG16 run.
        """
        data = dict(data or {})
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"Unknown training parameter(s): {', '.join(unknown)}.")
        return cls(**{k: v for k, v in data.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON/DB storage."""
        return asdict(self)


def defaults(backbone: str) -> dict[str, Any]:
    """The user-settable defaults of a backbone, with the limits of its trainable layers."""
    params = TrainParams(backbone=backbone)
    return {
        **{name: getattr(params, name) for name in BACKBONE_DEFAULTS[backbone]},
        "max_trainable_layers": TRAINABLE_CHOICES[backbone][-1],
        "trainable_layers_choices": describe_choices(TRAINABLE_CHOICES[backbone]),
    }


def describe_choices(values: tuple[int, ...]) -> str:
    """The text "0-11, 20, 29-38" for a sorted tuple of whole numbers."""
    spans: list[list[int]] = []
    for value in values:
        if spans and value == spans[-1][1] + 1:
            spans[-1][1] = value
        else:
            spans.append([value, value])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)


def _check_trainable(backbone: str, value: Any) -> None:
    choices = TRAINABLE_CHOICES[backbone]
    _check_int("trainable_layers", value, 0, choices[-1])
    if value not in choices:
        raise ValueError(
            f"trainable_layers for {backbone} must end at a block boundary: one of "
            f"{describe_choices(choices)} (got {value!r})."
        )


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high} (got {value!r}).")
