"""Train the trained part (last backbone layers + head) on cached features, with live progress and cancel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from webapp.ml._keras import keras
from webapp.ml.errors import TrainingCancelled
from webapp.params import TrainParams

BatchHook = Callable[[int, int, int, int], None]
EpochHook = Callable[[int, dict[str, Any]], None]
LOG_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
OPTIMIZERS = {"rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam}


class _Hooks(keras.callbacks.Callback):
    """Forwards Keras events (1-based epoch and batch numbers) and cancels before a batch."""

    def __init__(self, epochs: int, batches: int, on_batch, on_epoch, should_cancel):
        super().__init__()
        self.epochs, self.batches, self.epoch = epochs, batches, 0
        self.on_batch, self.on_epoch, self.should_cancel = on_batch, on_epoch, should_cancel
        self.history: list[dict[str, Any]] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_begin(self, batch, logs=None):
        # Raising here stops fit() before the next batch; the worker marks the run cancelled.
        if self.should_cancel and self.should_cancel():
            raise TrainingCancelled(f"Training was cancelled at epoch {self.epoch}, batch {batch + 1}.")

    def on_train_batch_end(self, batch, logs=None):
        if self.on_batch:
            self.on_batch(self.epoch, self.epochs, batch + 1, self.batches)

    def on_epoch_end(self, epoch, logs=None):
        # Plain floats; val_* are left out (not None) when there is no validation split.
        values = {k: float(logs[k]) for k in LOG_KEYS if logs and logs.get(k) is not None}
        self.history.append({"epoch": epoch + 1, **values})
        if self.on_epoch:
            self.on_epoch(epoch + 1, dict(values))


def train_on_features(
    trained_part: keras.Model,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None,
    params: TrainParams,
    on_batch: BatchHook | None = None,
    on_epoch: EpochHook | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> list[dict[str, Any]]:
    """Fit with the run's optimizer (RMSprop or Adam) and categorical cross-entropy; returns per-epoch
    {epoch, loss, accuracy, val_*}.

    on_epoch(epoch, logs) gets loss, accuracy, val_loss, val_accuracy (val_* only with a validation split).
    """
    x_train, y_train = train
    if len(x_train) == 0:
        raise ValueError("There are no training photos: label some photos first.")
    n_classes = trained_part.output_shape[-1]
    keras.utils.set_random_seed(params.seed)  # shuffling order and dropout masks repeat run to run
    trained_part.compile(
        optimizer=OPTIMIZERS[params.optimizer](learning_rate=params.learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    validation = None
    if val is not None and len(val[0]):
        validation = (val[0], keras.utils.to_categorical(val[1], n_classes))
    batches = -(-len(x_train) // params.batch_size)
    hooks = _Hooks(params.epochs, batches, on_batch, on_epoch, should_cancel)
    trained_part.fit(
        x_train,
        keras.utils.to_categorical(y_train, n_classes),
        batch_size=params.batch_size,
        epochs=params.epochs,
        validation_data=validation,
        shuffle=True,
        verbose=0,
        callbacks=[hooks],
    )
    return hooks.history
