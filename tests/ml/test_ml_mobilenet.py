"""MobileNetV2: the guide's model, cut points, equal outputs of both paths, weights files and folders."""

import json
import zipfile

import numpy as np
import pytest

from webapp.ml.errors import WeightsUnavailable

SIZE = 32
FOLDER_NAME = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"


def _random_images(n, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, SIZE, SIZE, 3)).astype(np.float32)


def test_preprocess_layer_equals_keras_preprocess_input():
    from webapp.ml._keras import keras
    from webapp.ml.preprocess import make_preprocess_layer

    x = np.random.default_rng(1).uniform(0, 255, (4, 9, 7, 3)).astype(np.float32)
    ours = np.asarray(make_preprocess_layer("mobilenet_v2")(x))
    theirs = keras.applications.mobilenet_v2.preprocess_input(x.copy())
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_allowed_trainable_layers_are_the_cuts_where_one_tensor_crosses(mobilenet):
    from webapp.params import MOBILENET_V2_CUTS, MOBILENET_V2_LAYERS

    layers = mobilenet.model.layers
    assert len(layers) - 1 == MOBILENET_V2_LAYERS
    position = {layer.name: i for i, layer in enumerate(layers)}
    clean = []
    for cut in range(len(layers)):  # layers[1..cut] frozen, the rest trained
        crossing = {
            tensor._keras_history.operation.name
            for layer in layers[cut + 1 :]
            for tensor in layer._inbound_nodes[0].input_tensors
            if position[tensor._keras_history.operation.name] <= cut
        }
        if len(crossing) <= 1:
            clean.append(MOBILENET_V2_LAYERS - cut)
    assert tuple(sorted(clean)) == MOBILENET_V2_CUTS


@pytest.mark.parametrize("trainable_layers", [11, 0, 20, 153])
def test_assembled_model_equals_cached_feature_path(mobilenet, trainable_layers):
    from webapp.ml.model import assemble_full_model, build_trained_part, get_extractor
    from webapp.ml.predict import predict_features, predict_images

    trained = build_trained_part(mobilenet, trainable_layers, 3, seed=5)
    full = assemble_full_model(mobilenet, trained)
    x = _random_images(6)
    two_step = predict_features(trained, get_extractor(mobilenet, trainable_layers)(x))
    np.testing.assert_allclose(predict_images(full, x), two_step, rtol=0, atol=1e-4)
    assert two_step.shape == (6, 3)
    assert not np.allclose(two_step, two_step[:1])  # different photos, different outputs


def test_the_model_is_the_guides(mobilenet, tmp_path):
    from webapp.ml._keras import keras
    from webapp.ml.model import assemble_full_model, build_trained_part

    full = assemble_full_model(mobilenet, build_trained_part(mobilenet, 11, 2, seed=1))
    assert [layer.name for layer in full.layers] == [
        "image", "mobilenet_v2_preprocess", "mobilenet_v2_frozen", "mobilenet_v2_top",
        "pooling", "head_dropout", "predictions",
    ]  # fmt: skip
    assert isinstance(full.get_layer("mobilenet_v2_preprocess"), keras.layers.Rescaling)
    assert isinstance(full.get_layer("pooling"), keras.layers.GlobalAveragePooling2D)
    assert full.get_layer("head_dropout").rate == 0.2
    assert full.get_layer("predictions").get_config()["activation"] == "softmax"
    top = full.get_layer("mobilenet_v2_top")
    assert [layer.name for layer in top.layers[1:]] == [
        "block_16_expand", "block_16_expand_BN", "block_16_expand_relu", "block_16_depthwise",
        "block_16_depthwise_BN", "block_16_depthwise_relu", "block_16_project", "block_16_project_BN",
        "Conv_1", "Conv_1_bn", "out_relu",
    ]  # fmt: skip
    trainable = {w.path.split("/")[0] for w in full.trainable_weights}
    assert trainable == {"block_16_expand", "block_16_depthwise", "block_16_project", "Conv_1", "predictions"}
    assert full.get_layer("mobilenet_v2_frozen").trainable_weights == []
    # Saved as the guide calls the base: training=False, so a reloaded model keeps it.
    full.save(tmp_path / "m.keras")
    config = json.loads(zipfile.ZipFile(tmp_path / "m.keras").read("config.json"))
    calls = {layer["name"]: layer["inbound_nodes"][0]["kwargs"] for layer in config["config"]["layers"][1:]}
    assert (
        calls["mobilenet_v2_frozen"]["training"] is False and calls["mobilenet_v2_top"]["training"] is False
    )


def test_fine_tuning_keeps_batch_norm_in_inference_mode(mobilenet):
    """fit() calls the model with training=True; the top's batch norm must not learn batch statistics."""
    from webapp.ml.model import build_trained_part, get_extractor
    from webapp.ml.train import train_on_features
    from webapp.params import TrainParams

    trained = build_trained_part(mobilenet, 11, 2)
    norm = trained.get_layer("mobilenet_v2_top").get_layer("block_16_expand_BN")
    before = [w.copy() for w in norm.get_weights()]
    conv_before = trained.get_layer("mobilenet_v2_top").get_layer("Conv_1").get_weights()[0].copy()
    features = get_extractor(mobilenet, 11)(_random_images(8, seed=3))
    labels = np.arange(8) % 2
    params = TrainParams(backbone="mobilenet_v2", epochs=2, batch_size=4)
    train_on_features(trained, (features, labels), None, params)
    for ours, start in zip(norm.get_weights(), before, strict=True):
        np.testing.assert_array_equal(ours, start)
    assert not np.array_equal(
        trained.get_layer("mobilenet_v2_top").get_layer("Conv_1").get_weights()[0], conv_before
    )


def test_trained_part_starts_from_backbone_weights_on_fresh_layers(mobilenet):
    from webapp.ml.model import build_trained_part

    top = build_trained_part(mobilenet, 11, 2).get_layer("mobilenet_v2_top")
    for name in ("block_16_expand", "Conv_1_bn"):
        for ours, source in zip(
            top.get_layer(name).get_weights(), mobilenet.model.get_layer(name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(ours, source)
        assert top.get_layer(name) is not mobilenet.model.get_layer(name)
    with pytest.raises(ValueError, match=r"one of 0-11, 20"):
        build_trained_part(mobilenet, 12, 2)


def test_none_weights_are_made_once_and_give_photos_distinct_features(backbone_dir, mobilenet, backbone):
    from webapp.ml.backbone import build_backbone, none_weights_path, weights_identity
    from webapp.ml.model import get_extractor

    path = none_weights_path(backbone_dir, "mobilenet_v2")
    assert path.name == "mobilenet_v2-notop-random-seed2.weights.h5"
    stamp = path.stat().st_mtime_ns
    assert mobilenet.identity == weights_identity("none", backbone_dir, "mobilenet_v2") != backbone.identity
    again = build_backbone("mobilenet_v2", "none", SIZE, backbone_dir)
    assert path.stat().st_mtime_ns == stamp
    x = _random_images(4, seed=2)
    np.testing.assert_array_equal(
        np.asarray(again(x / 127.5 - 1)), np.asarray(mobilenet.model(x / 127.5 - 1))
    )
    # Random weights without measured batch-norm statistics would give ~1e-9 for every photo.
    features = get_extractor(mobilenet, 0)(x)
    assert 0.05 < float(features.std()) < 10
    assert np.abs(features[0] - features[1]).mean() > 0.01


def test_feature_cache_keys_never_mix_backbones(mobilenet, backbone):
    from webapp.ml.pipeline import _key

    ours, theirs = _key(mobilenet, 11), _key(backbone, 4)
    assert ours == f"mobilenet_v2-{mobilenet.identity}-32px-block_15_add"
    assert theirs == f"vgg16-{backbone.identity}-32px-block4_pool"  # VGG16's caches keep their old names
    assert _key(mobilenet, 0) != ours


def _legacy_h5(model, path):
    """Write weights as keras.applications' downloads are (Keras 2 HDF5 layout)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


def _same_outputs(a, b):
    x = _random_images(2, seed=4) / 127.5 - 1
    np.testing.assert_array_equal(np.asarray(a(x)), np.asarray(b(x)))


def test_a_folder_of_keras_named_files_serves_both_backbones(tmp_path, mobilenet, backbone):
    from webapp.ml.backbone import build_backbone, weights_identity

    folder = tmp_path / "weights"
    folder.mkdir()
    _legacy_h5(backbone.model, folder / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    mobilenet.model.save_weights(tmp_path / "m.weights.h5")  # Keras 3 format under Keras' legacy name
    (tmp_path / "m.weights.h5").rename(folder / FOLDER_NAME)
    _same_outputs(build_backbone("mobilenet_v2", str(folder), SIZE, tmp_path / "unused"), mobilenet.model)
    _same_outputs(build_backbone("vgg16", str(folder), SIZE, tmp_path / "unused"), backbone.model)
    ids = {
        name: weights_identity(str(folder), tmp_path / "unused", name) for name in ("vgg16", "mobilenet_v2")
    }
    assert ids["vgg16"] != ids["mobilenet_v2"] and all(i.startswith("file-") for i in ids.values())


def test_a_legacy_file_named_like_keras3_loads_too(tmp_path, mobilenet):
    from webapp.ml.backbone import build_backbone

    path = _legacy_h5(mobilenet.model, tmp_path / "mine.weights.h5")
    _same_outputs(build_backbone("mobilenet_v2", str(path), SIZE, tmp_path), mobilenet.model)


def test_missing_and_wrong_files_are_plain_errors(tmp_path, backbone):
    from webapp.ml.backbone import build_backbone, weights_identity

    with pytest.raises(WeightsUnavailable, match=f"has no MobileNetV2 weights: put {FOLDER_NAME} there"):
        build_backbone("mobilenet_v2", str(tmp_path), SIZE, tmp_path)
    with pytest.raises(WeightsUnavailable, match=f"has no MobileNetV2 weights: put {FOLDER_NAME}"):
        weights_identity(str(tmp_path), tmp_path, "mobilenet_v2")
    vgg_file = tmp_path / "vgg.weights.h5"
    backbone.model.save_weights(vgg_file)
    with pytest.raises(
        WeightsUnavailable, match=r"not a MobileNetV2 \(include_top=False\).*point it at a folder"
    ):
        build_backbone("mobilenet_v2", str(vgg_file), SIZE, tmp_path)
    text = tmp_path / "notes.h5"
    text.write_text("not weights")
    with pytest.raises(WeightsUnavailable, match="not an HDF5 file"):
        build_backbone("mobilenet_v2", str(text), SIZE, tmp_path)


def test_imagenet_download_failure_names_the_mobilenet_file(monkeypatch, tmp_path):
    from keras.src.applications import mobilenet_v2

    from webapp.ml.backbone import build_backbone

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(mobilenet_v2.file_utils, "get_file", offline)
    with pytest.raises(WeightsUnavailable) as info:
        build_backbone("mobilenet_v2", "imagenet", SIZE, tmp_path)
    message = str(info.value)
    assert (
        "network is unreachable" in message
        and FOLDER_NAME in message
        and "WEBAPP_BACKBONE_WEIGHTS" in message
    )
