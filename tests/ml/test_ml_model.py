"""The assembled model is the article's architecture and equals frozen part -> trained part."""

import numpy as np
import pytest

SIZE = 32


def _random_images(n, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, SIZE, SIZE, 3)).astype(np.float32)


@pytest.mark.parametrize("trainable_layers", [4, 0, 18])
def test_assembled_model_equals_frozen_then_trained(backbone, trainable_layers):
    from webapp.ml.model import assemble_full_model, build_trained_part, get_extractor
    from webapp.ml.predict import predict_features, predict_images

    trained = build_trained_part(backbone, trainable_layers, 3, seed=5)
    full = assemble_full_model(backbone, trained)
    x = _random_images(6)
    two_step = predict_features(trained, get_extractor(backbone, trainable_layers)(x))
    np.testing.assert_allclose(predict_images(full, x), two_step, rtol=1e-5, atol=1e-6)
    assert two_step.shape == (6, 3)


def test_assembled_model_is_the_articles_model(backbone):
    from webapp.ml._keras import keras
    from webapp.ml.model import assemble_full_model, build_trained_part
    from webapp.ml.preprocess import PREPROCESS_LAYER

    full = assemble_full_model(backbone, build_trained_part(backbone, 4, 2, seed=1))
    assert [layer.name for layer in full.layers] == [
        PREPROCESS_LAYER, "vgg16", "flatten", "fc1024", "dropout", "predictions"
    ]  # fmt: skip
    vgg = full.get_layer("vgg16")
    assert [layer.name for layer in vgg.layers[1:] if layer.trainable] == [
        "block5_conv1", "block5_conv2", "block5_conv3", "block5_pool"
    ]  # fmt: skip
    assert full.get_layer("fc1024").units == 1024 and full.get_layer("dropout").rate == 0.5
    # The article's way: VGG16 + head in a Sequential, fed preprocess_input(x), with the same weights.
    article = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            keras.applications.VGG16(weights=None, include_top=False, input_shape=(SIZE, SIZE, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(1024, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    article.set_weights(full.get_weights()[2:])  # all but the preprocess layer's kernel and bias
    x = _random_images(4, seed=1)
    theirs = article.predict(keras.applications.vgg16.preprocess_input(x.copy()), verbose=0)
    np.testing.assert_allclose(full.predict(x, verbose=0), theirs, rtol=1e-5, atol=1e-6)


def test_trained_part_starts_from_backbone_weights(backbone):
    from webapp.ml.model import build_trained_part

    trained = build_trained_part(backbone, 4, 2)
    for name in ("block5_conv1", "block5_conv3"):
        for ours, source in zip(
            trained.get_layer(name).get_weights(), backbone.model.get_layer(name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(ours, source)
    assert trained.get_layer("block5_conv1") is not backbone.model.get_layer("block5_conv1")
    with pytest.raises(ValueError, match="at least 2 classes"):
        build_trained_part(backbone, 4, 1)
