"""Backbone weights: ImageNet failure message, bad files, the seeded random "none" backbone; preprocessing."""

import numpy as np
import pytest

from webapp.ml.errors import WeightsUnavailable

SIZE = 32


def test_preprocess_layer_equals_keras_preprocess_input():
    from webapp.ml._keras import keras
    from webapp.ml.preprocess import make_preprocess_layer

    x = np.random.default_rng(1).uniform(0, 255, (4, 9, 7, 3)).astype(np.float32)
    ours = np.asarray(make_preprocess_layer()(x))
    theirs = keras.applications.vgg16.preprocess_input(x.copy())
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)


def test_missing_weights_file_is_a_plain_error(tmp_path):
    from webapp.ml.backbone import build_vgg16, weights_identity

    missing = tmp_path / "nope.h5"
    with pytest.raises(WeightsUnavailable, match=r"nope\.h5 does not exist.*WEBAPP_BACKBONE_WEIGHTS"):
        build_vgg16(str(missing), SIZE, tmp_path)
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        weights_identity(str(missing), tmp_path)


def test_bad_weights_file_is_a_plain_error(tmp_path):
    from webapp.ml.backbone import build_vgg16

    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(WeightsUnavailable, match=r"Could not load VGG16 weights from .*broken\.h5"):
        build_vgg16(str(bad), SIZE, tmp_path)


def test_imagenet_download_failure_says_where_to_put_the_file(monkeypatch, tmp_path):
    from keras.src.applications import vgg16

    from webapp.ml.backbone import NOTOP_FILE, build_vgg16

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(vgg16.file_utils, "get_file", offline)
    with pytest.raises(WeightsUnavailable) as info:
        build_vgg16("imagenet", SIZE, tmp_path)
    message = str(info.value)
    assert "network is unreachable" in message
    assert NOTOP_FILE in message and "WEBAPP_BACKBONE_WEIGHTS" in message and ".keras/models" in message


def test_none_backbone_is_created_once_and_reused(backbone_dir, backbone):
    from webapp.ml.backbone import build_vgg16, none_weights_path, weights_identity

    path = none_weights_path(backbone_dir)
    stamp = path.stat().st_mtime_ns
    assert backbone.identity == weights_identity("none", backbone_dir)
    assert backbone.identity.startswith("none-")
    again = build_vgg16("none", SIZE, backbone_dir)  # a fresh model, not the in-process cache
    assert path.stat().st_mtime_ns == stamp
    assert weights_identity("none", backbone_dir) == backbone.identity
    x = np.random.default_rng(2).uniform(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(backbone.model(x)))
    assert not [p for p in backbone_dir.iterdir() if p.name.startswith(".tmp-")]


def test_weights_file_spec_loads_and_has_a_content_id(tmp_path, backbone):
    from webapp.ml.backbone import build_vgg16, weights_identity

    path = tmp_path / "vgg16_notop.weights.h5"
    backbone.model.save_weights(path)
    model = build_vgg16(str(path), SIZE, tmp_path / "unused")
    identity = weights_identity(str(path), tmp_path / "unused")
    assert identity.startswith("file-") and len(identity) == len("file-") + 12
    x = np.random.default_rng(3).uniform(0, 255, (1, SIZE, SIZE, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(backbone.model(x)))


def test_get_backbone_is_cached_in_process(backbone_dir, backbone):
    from webapp.ml.backbone import get_backbone
    from webapp.ml.model import get_extractor

    assert get_backbone("none", SIZE, backbone_dir) is backbone
    assert get_extractor(backbone, 4) is get_extractor(backbone, 4)
    assert all(not layer.trainable for layer in backbone.model.layers)
