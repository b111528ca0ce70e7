"""The one place that imports Keras, so the backend is chosen before the first import."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# INFO lines (oneDNN notices) drown the worker log; warnings and errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import keras
import tensorflow as tf

__all__ = ["keras", "tf"]
