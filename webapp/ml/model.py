"""Cut a backbone into a frozen part (cached features) and a trained part, and put the whole model together.

VGG16 gets the article's model (here); MobileNetV2 the keras-io guide's (webapp.ml.mobilenet).
"""

from __future__ import annotations

import functools

import numpy as np

from webapp.ml import mobilenet
from webapp.ml._keras import keras, tf
from webapp.ml.backbone import Backbone
from webapp.ml.preprocess import PREPROCESS_LAYER, PREPROCESS_LAYERS
from webapp.params import VGG16_LAYERS

VGG_SUBMODEL = "vgg16"
HEAD_LAYERS = ("flatten", "fc1024", "dropout", "predictions")


def _infer(model: keras.Model, x):
    return model(x, training=False)


class Forward:
    """A model's inference pass as one traced graph (fused conv+bias+relu on CPU), in fixed-size chunks."""

    def __init__(self, model: keras.Model, batch_size: int = 32):
        self.model = model
        self.batch_size = batch_size
        spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
        # A partial (no __code__) gives each model its own retracing counter: TF would otherwise count
        # every new model's single trace against one shared lambda and log "excessive retracing".
        self._fn = tf.function(functools.partial(_infer, model), input_signature=[spec])

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of one output row."""
        return tuple(self.model.output_shape[1:])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Outputs (float32) for a batch of inputs, any length (0 included)."""
        x = np.asarray(x)
        if len(x) == 0:
            return np.zeros((0, *self.output_shape), dtype=np.float32)
        chunks = [
            self._fn(tf.constant(x[i : i + self.batch_size], dtype=tf.float32)).numpy()
            for i in range(0, len(x), self.batch_size)
        ]
        return np.concatenate(chunks)


def first_trained(trainable_layers: int, backbone: str = "vgg16") -> int:
    """Index (in the backbone's layers without the input) of the first trained layer."""
    if backbone == "mobilenet_v2":
        return mobilenet.first_trained(trainable_layers)
    if not 0 <= trainable_layers <= VGG16_LAYERS:
        raise ValueError(f"trainable_layers must be from 0 to {VGG16_LAYERS} (got {trainable_layers!r}).")
    return VGG16_LAYERS - trainable_layers


def cut_layer_name(backbone: Backbone, trainable_layers: int) -> str:
    """Name of the last frozen layer, whose output is cached (the preprocess layer if none is frozen)."""
    cut = first_trained(trainable_layers, backbone.name)
    return backbone.layers[cut - 1].name if cut else PREPROCESS_LAYERS[backbone.name]


def get_extractor(backbone: Backbone, trainable_layers: int) -> Forward:
    """Raw RGB images -> preprocess -> frozen backbone layers, built once per backbone and cut."""
    if trainable_layers not in backbone.extractors:
        if backbone.name == "mobilenet_v2":
            # 16 a batch: a depthwise network's activations are small; measured on 2 cores at 224 px.
            model, batch = mobilenet.extractor_model(backbone, trainable_layers), 16
        else:
            # Batches of 8 measured fastest on 2 cores at 224 px (activations stay in cache better than 16).
            model, batch = _vgg16_extractor(backbone, trainable_layers), 8
        backbone.extractors[trainable_layers] = Forward(model, batch_size=batch)
    return backbone.extractors[trainable_layers]


def _vgg16_extractor(backbone: Backbone, trainable_layers: int) -> keras.Model:
    size = backbone.image_size
    inputs = keras.Input((size, size, 3), name="image")
    x = backbone.preprocess(inputs)
    for layer in backbone.layers[: first_trained(trainable_layers)]:
        x = layer(x)
    return keras.Model(inputs, x, name="vgg16_frozen")


def build_trained_part(
    backbone: Backbone, trainable_layers: int, n_classes: int, seed: int = 0
) -> keras.Model:
    """Features -> fresh copies of the last backbone layers (backbone weights) -> the backbone's head."""
    if n_classes < 2:
        raise ValueError(f"Training needs at least 2 classes (got {n_classes}).")
    feature_shape = get_extractor(backbone, trainable_layers).output_shape
    if backbone.name == "mobilenet_v2":
        return mobilenet.build_trained_part(backbone, trainable_layers, n_classes, feature_shape, seed)
    cut = first_trained(trainable_layers)
    inputs = keras.Input(feature_shape, name="features")
    x = inputs
    for source in backbone.layers[cut:]:
        layer = source.__class__.from_config(source.get_config())
        x = layer(x)
        layer.set_weights(source.get_weights())
        layer.trainable = True
    outputs = _head(x, n_classes, seed)
    return keras.Model(inputs, outputs, name="trained_part")


def _head(x, n_classes: int, seed: int):
    """Flatten -> Dense(1024, relu) -> Dropout(0.5) -> Dense(n, softmax), seeded."""
    init = keras.initializers.GlorotUniform
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(1024, activation="relu", kernel_initializer=init(seed=seed), name="fc1024")(x)
    x = keras.layers.Dropout(0.5, seed=seed, name="dropout")(x)
    return keras.layers.Dense(
        n_classes, activation="softmax", kernel_initializer=init(seed=seed + 1), name="predictions"
    )(x)


def assemble_full_model(backbone: Backbone, trained_part: keras.Model) -> keras.Model:
    """The whole model: raw image -> preprocess -> backbone (frozen + trained layers) -> head.

    The layers are shared, not copied: frozen ones from the backbone, the rest from the trained part.
    """
    if backbone.name == "mobilenet_v2":
        extractor = get_extractor(backbone, mobilenet.trained_layers(trained_part)).model
        return mobilenet.assemble_full_model(backbone, extractor, trained_part)
    size = backbone.image_size
    trained_vgg = [layer for layer in trained_part.layers[1:] if layer.name not in HEAD_LAYERS]
    inputs = keras.Input((size, size, 3), name="vgg16_input")
    x = inputs
    for layer in backbone.layers[: VGG16_LAYERS - len(trained_vgg)]:
        x = layer(x)
    for layer in trained_vgg:
        x = layer(x)
    vgg = keras.Model(inputs, x, name=VGG_SUBMODEL)
    head = [trained_part.get_layer(name) for name in HEAD_LAYERS]
    image = keras.Input((size, size, 3), name="image")
    return keras.Sequential([image, backbone.preprocess, vgg, *head], name="vgg16_transfer")


def split_full_model(full: keras.Model) -> tuple[keras.Model, keras.Model]:
    """(extractor, trained part) views sharing a loaded full model's layers; frozen = not trainable."""
    if any(layer.name == PREPROCESS_LAYERS["mobilenet_v2"] for layer in full.layers):
        return mobilenet.split_full_model(full, PREPROCESS_LAYERS["mobilenet_v2"])
    vgg = full.get_layer(VGG_SUBMODEL)
    frozen = [layer for layer in vgg.layers[1:] if not layer.trainable]
    trained = [layer for layer in vgg.layers[1:] if layer.trainable]
    inputs = keras.Input(full.input_shape[1:], name="image")
    x = full.get_layer(PREPROCESS_LAYER)(inputs)
    for layer in frozen:
        x = layer(x)
    extractor = keras.Model(inputs, x, name="vgg16_frozen")
    features = keras.Input(x.shape[1:], name="features")
    y = features
    for layer in trained + [full.get_layer(name) for name in HEAD_LAYERS]:
        y = layer(y)
    return extractor, keras.Model(features, y, name="trained_part")
