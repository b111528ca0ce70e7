"""Train the trained part (last backbone layers + head) on cached features, with live progress and cancel.

A plain loop around one traced training step, not keras' fit(): on cached features an epoch is a few
small batches, and fit() spent ~0.15 s of bookkeeping per epoch (tf.data iterators, a second traced
function for validation, callbacks) where the step itself takes milliseconds; 20 epochs of a head took
3.9 s instead of 0.3 s (benchmarks/bench_train.py). The numbers reported are fit()'s: per epoch the
sample-weighted mean training loss and accuracy (dropout on), then loss and accuracy on the validation split.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from webapp.ml._keras import keras, tf
from webapp.ml.errors import TrainingCancelled
from webapp.ml.predict import predict_features
from webapp.params import TrainParams

BatchHook = Callable[[int, int, int, int], None]
EpochHook = Callable[[int, dict[str, Any]], None]
LOG_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
OPTIMIZERS = {"rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam}
_EPSILON = 1e-7  # keras clips probabilities so before taking the log in categorical cross-entropy


def _train_step(model, optimizer, x, y):
    with tf.GradientTape() as tape:
        probs = model(x, training=True)
        loss = tf.reduce_mean(keras.losses.categorical_crossentropy(y, probs))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply(grads, model.trainable_variables)
    right = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(probs, 1), tf.argmax(y, 1)), tf.float32))
    return loss, right


class _Trainer:
    """One run's optimizer and traced step; scores the validation split with the same model."""

    def __init__(self, model: keras.Model, params: TrainParams):
        self.model, self.n_classes = model, model.output_shape[-1]
        self.optimizer = OPTIMIZERS[params.optimizer](learning_rate=params.learning_rate)
        self.optimizer.build(model.trainable_variables)
        spec = (
            tf.TensorSpec((None, *model.input_shape[1:]), tf.float32),
            tf.TensorSpec((None, self.n_classes), tf.float32),
        )
        # A partial per model (see model.Forward): one trace per run, whatever the last batch's size.
        # No autograph: the step has no Python control flow to convert, and converting cost ~0.1 s a run.
        step = functools.partial(_train_step, model, self.optimizer)
        self._step = tf.function(step, input_signature=spec, autograph=False)

    def step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Train on one batch: (mean loss, number right)."""
        onehot = np.eye(self.n_classes, dtype=np.float32)[y]
        loss, right = self._step(tf.constant(x, dtype=tf.float32), tf.constant(onehot))
        return float(loss), float(right)

    def score(self, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """val_loss and val_accuracy (inference mode)."""
        probs = predict_features(self.model, x)
        picked = np.clip(probs[np.arange(len(y)), y], _EPSILON, 1.0)
        return {
            "val_loss": float(-np.log(picked).mean()),
            "val_accuracy": float((probs.argmax(1) == y).mean()),
        }


def train_on_features(
    trained_part: keras.Model,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None,
    params: TrainParams,
    on_batch: BatchHook | None = None,
    on_epoch: EpochHook | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> list[dict[str, Any]]:
    """Train with the run's optimizer (RMSprop or Adam) and categorical cross-entropy; returns per-epoch
    {epoch, loss, accuracy, val_*}.

    on_epoch(epoch, logs) gets loss, accuracy, val_loss, val_accuracy (val_* only with a validation split);
    should_cancel is asked before each batch and stops the run with TrainingCancelled.
    """
    x_train, y_train = train
    if len(x_train) == 0:
        raise ValueError("There are no training photos: label some photos first.")
    keras.utils.set_random_seed(params.seed)  # shuffling order and dropout masks repeat run to run
    order_rng = np.random.default_rng(params.seed)
    trainer = _Trainer(trained_part, params)
    y_train = np.asarray(y_train, dtype=np.int64)
    batches = -(-len(x_train) // params.batch_size)
    history: list[dict[str, Any]] = []
    for epoch in range(1, params.epochs + 1):
        order = order_rng.permutation(len(x_train))
        loss_sum = right = 0.0
        for batch in range(1, batches + 1):
            if should_cancel and should_cancel():
                raise TrainingCancelled(f"Training was cancelled at epoch {epoch}, batch {batch}.")
            rows = order[(batch - 1) * params.batch_size : batch * params.batch_size]
            loss, hits = trainer.step(x_train[rows], y_train[rows])
            loss_sum, right = loss_sum + loss * len(rows), right + hits
            if on_batch:
                on_batch(epoch, params.epochs, batch, batches)
        values = {"loss": loss_sum / len(x_train), "accuracy": right / len(x_train)}
        if val is not None and len(val[0]):
            values.update(trainer.score(val[0], np.asarray(val[1], dtype=np.int64)))
        history.append({"epoch": epoch, **values})
        if on_epoch:
            on_epoch(epoch, dict(values))
    return history
