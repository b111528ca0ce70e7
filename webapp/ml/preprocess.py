"""Each backbone's `preprocess_input` as a frozen layer, so a saved model takes raw RGB (0-255)."""

from __future__ import annotations

import numpy as np

from webapp.ml._keras import keras

PREPROCESS_LAYER = "vgg16_preprocess"
PREPROCESS_LAYERS = {"vgg16": PREPROCESS_LAYER, "mobilenet_v2": "mobilenet_v2_preprocess"}
# ImageNet channel means in BGR order, exactly the constants of preprocess_input (caffe mode).
IMAGENET_BGR_MEANS = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def preprocess_weights() -> list[np.ndarray]:
    """Kernel that swaps RGB->BGR and bias that subtracts the means: what caffe-mode preprocessing does."""
    kernel = np.zeros((1, 1, 3, 3), dtype=np.float32)
    for out_channel in range(3):
        kernel[0, 0, 2 - out_channel, out_channel] = 1.0
    return [kernel, -IMAGENET_BGR_MEANS]


def make_preprocess_layer(backbone: str = "vgg16") -> keras.layers.Layer:
    """A built, frozen plain Keras layer (serialises in .keras, converts to TFLite), no custom code.

    VGG16: a 1x1 Conv2D doing caffe-mode preprocessing. MobileNetV2: x / 127.5 - 1 (tf mode, [-1, 1]).
    """
    if backbone == "mobilenet_v2":
        layer = keras.layers.Rescaling(
            1 / 127.5, offset=-1.0, name=PREPROCESS_LAYERS[backbone], trainable=False, dtype="float32"
        )
        layer.build((None, None, None, 3))
        return layer
    layer = keras.layers.Conv2D(3, 1, name=PREPROCESS_LAYER, trainable=False, dtype="float32")
    layer.build((None, None, None, 3))
    layer.set_weights(preprocess_weights())
    return layer
