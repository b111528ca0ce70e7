"""MobileNetV2 cut into a frozen part (cached features) and a trained part, and the keras-io guide's model.

The saved model: raw RGB -> Rescaling to [-1, 1] -> frozen MobileNetV2 layers -> the fine-tuned top layers
(both called with training=False as in the guide; the batch normalisation layers are frozen too, which
is what keeps them in inference mode under Keras 3's fit, see _fine_tunable)
-> GlobalAveragePooling2D -> Dropout(0.2) -> Dense(n, softmax). The two MobileNetV2 parts are nested
models; their layers are those of keras.applications.MobileNetV2.
"""

from __future__ import annotations

from webapp.ml._keras import keras
from webapp.ml.backbone import Backbone
from webapp.params import MOBILENET_V2_CUTS, MOBILENET_V2_LAYERS, describe_choices

FROZEN_SUBMODEL = "mobilenet_v2_frozen"
TOP_SUBMODEL = "mobilenet_v2_top"
HEAD_LAYERS = ("pooling", "head_dropout", "predictions")
DROPOUT = 0.2  # the guide's rate


def first_trained(trainable_layers: int) -> int:
    """Index (in MobileNetV2 layers without the input) of the first trained layer."""
    if trainable_layers not in MOBILENET_V2_CUTS:
        raise ValueError(
            f"trainable_layers for mobilenet_v2 must be one of {describe_choices(MOBILENET_V2_CUTS)} "
            f"(got {trainable_layers!r})."
        )
    return MOBILENET_V2_LAYERS - trainable_layers


def _cut_tensor(backbone: Backbone, trainable_layers: int):
    cut = first_trained(trainable_layers)
    return backbone.layers[cut - 1].output if cut else backbone.model.input


def extractor_model(backbone: Backbone, trainable_layers: int) -> keras.Model:
    """Raw RGB images -> preprocess -> the frozen layers (shared with the backbone) in inference mode."""
    size = backbone.image_size
    inputs = keras.Input((size, size, 3), name="image")
    x = backbone.preprocess(inputs)
    if first_trained(trainable_layers):
        frozen = keras.Model(
            backbone.model.input, _cut_tensor(backbone, trainable_layers), name=FROZEN_SUBMODEL
        )
        frozen.trainable = False
        x = frozen(x, training=False)
    return keras.Model(inputs, x, name="mobilenet_v2_extractor")


def build_trained_part(
    backbone: Backbone, trainable_layers: int, n_classes: int, feature_shape: tuple, seed: int = 0
) -> keras.Model:
    """Features -> fresh copies of the top MobileNetV2 layers (backbone weights) -> the guide's head."""
    inputs = keras.Input(feature_shape, name="features")
    x = inputs
    if trainable_layers:
        # A model from a tensor inside the backbone to its output: Keras keeps exactly the layers after it.
        source = keras.Model(_cut_tensor(backbone, trainable_layers), backbone.model.output)
        top = keras.models.clone_model(source)
        top.set_weights(source.get_weights())
        top.name = TOP_SUBMODEL
        _fine_tunable(top)
        x = top(x, training=False)
    return keras.Model(inputs, _head(x, n_classes, seed), name="trained_part")


def _fine_tunable(top: keras.Model) -> None:
    """Convolutions trainable, batch normalisation frozen (so always in inference mode).

    The guide keeps batch normalisation in inference mode by calling the base with training=False; in
    Keras 3 fit() overrides a nested call's training=False (keras-team/keras#20285), while a non-trainable
    BatchNormalization layer always uses its moving statistics. Setting a Functional's trainable does not
    reach its layers, hence one by one.
    """
    for layer in top.layers:
        layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)


def _head(x, n_classes: int, seed: int):
    """GlobalAveragePooling2D -> Dropout(0.2) -> Dense(n, softmax), seeded."""
    x = keras.layers.GlobalAveragePooling2D(name=HEAD_LAYERS[0])(x)
    x = keras.layers.Dropout(DROPOUT, seed=seed, name=HEAD_LAYERS[1])(x)
    init = keras.initializers.GlorotUniform(seed=seed + 1)
    dense = keras.layers.Dense(n_classes, activation="softmax", kernel_initializer=init, name=HEAD_LAYERS[2])
    return dense(x)


def assemble_full_model(backbone: Backbone, extractor: keras.Model, trained_part: keras.Model) -> keras.Model:
    """The guide's model: raw image -> preprocess -> frozen part -> top -> head; layers shared, not copied."""
    size = backbone.image_size
    image = keras.Input((size, size, 3), name="image")
    x = backbone.preprocess(image)
    if FROZEN_SUBMODEL in _names(extractor):
        x = extractor.get_layer(FROZEN_SUBMODEL)(x, training=False)
    if TOP_SUBMODEL in _names(trained_part):
        x = trained_part.get_layer(TOP_SUBMODEL)(x, training=False)
    for name in HEAD_LAYERS:
        x = trained_part.get_layer(name)(x)
    return keras.Model(image, x, name="mobilenet_v2_transfer")


def split_full_model(full: keras.Model, preprocess_name: str) -> tuple[keras.Model, keras.Model]:
    """(extractor, trained part) views sharing a loaded full model's layers."""
    names = _names(full)
    inputs = keras.Input(full.input_shape[1:], name="image")
    x = full.get_layer(preprocess_name)(inputs)
    if FROZEN_SUBMODEL in names:
        x = full.get_layer(FROZEN_SUBMODEL)(x, training=False)
    extractor = keras.Model(inputs, x, name="mobilenet_v2_extractor")
    features = keras.Input(x.shape[1:], name="features")
    y = features
    if TOP_SUBMODEL in names:
        y = full.get_layer(TOP_SUBMODEL)(y, training=False)
    for name in HEAD_LAYERS:
        y = full.get_layer(name)(y)
    return extractor, keras.Model(features, y, name="trained_part")


def trained_layers(trained_part: keras.Model) -> int:
    """How many MobileNetV2 layers a trained part holds (its trainable_layers)."""
    if TOP_SUBMODEL not in _names(trained_part):
        return 0
    top = trained_part.get_layer(TOP_SUBMODEL)
    return sum(1 for layer in top.layers if not isinstance(layer, keras.layers.InputLayer))


def _names(model: keras.Model) -> set[str]:
    return {layer.name for layer in model.layers}
