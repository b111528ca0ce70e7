"""The one place that imports Keras, so the backend is chosen before the first import."""

import contextlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")


@contextlib.contextmanager
def _native_stderr_silenced():
    # TensorFlow's C++ side prints notices (absl, oneDNN) straight to file descriptor 2 on import and at the
    # first operation, in every worker process, whatever TF_CPP_MIN_LOG_LEVEL says. `--verbose` keeps them.
    if os.environ.get("WEBAPP_VERBOSE"):
        yield
        return
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


with _native_stderr_silenced():
    import keras
    import tensorflow as tf

    tf.constant(1.0) + 1.0  # the first operation prints the oneDNN notice once more
if not os.environ.get("WEBAPP_VERBOSE"):
    keras.config.disable_interactive_logging()  # "Downloading data from ..." goes to the (quiet) log

__all__ = ["keras", "tf"]
