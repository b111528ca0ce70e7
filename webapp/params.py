"""Hyperparameters of a run, validated the same way by the web side (a Train request) and the worker."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

# Layers of VGG16(include_top=False) that hold computation: 13 convolutions + 5 poolings (the input layer
# is not counted). trainable_layers=4 is the article's block5_conv1..3 + block5_pool.
VGG16_LAYERS = 18


@dataclass(frozen=True)
class TrainParams:
    """The article's defaults: 5 epochs, batch 32, RMSprop 1e-4, the last 4 VGG16 layers trained."""

    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 1e-4
    trainable_layers: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        _check_int("epochs", self.epochs, 1, 200)
        _check_int("batch_size", self.batch_size, 1, 512)
        _check_int("trainable_layers", self.trainable_layers, 0, VGG16_LAYERS)
        _check_int("seed", self.seed, 0, 2**31 - 1)
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
        """Build from a request/DB dict; unknown keys are an error, missing keys take the defaults."""
        data = dict(data or {})
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"Unknown training parameter(s): {', '.join(unknown)}.")
        return cls(**{k: v for k, v in data.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON/DB storage."""
        return asdict(self)


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high} (got {value!r}).")
