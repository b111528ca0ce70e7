"""A real small MobileNetV2 run end to end: scores, files, reload, fast path, predictions, TFLite."""

import json

import numpy as np
import pytest

pytestmark = pytest.mark.slow
SIZE = 32


def test_training_learns_and_saves_the_backbone(trained_mobilenet_run):
    job, _, result, progress = trained_mobilenet_run
    assert result.metrics["accuracy"] >= 0.83  # 6 held-out photos: at most one wrong
    assert [c[1] for c in progress.of("stage")] == [
        "backbone",
        "features",
        "training",
        "evaluating",
        "saving",
    ]
    info = json.loads(result.info_path.read_text())
    assert info["backbone"] == "mobilenet_v2" and info["params"]["backbone"] == "mobilenet_v2"
    assert info["cut_layer"] == "block_16_project_BN" and info["trainable_layers"] == 3
    assert info["feature_key"].startswith("mobilenet_v2-none-") and info["feature_key"].endswith(
        "-32px-block_16_project_BN"
    )
    assert (job.feature_root / info["feature_key"]).is_dir()
    assert not [p for p in job.model_dir.iterdir() if p.name.startswith(".tmp-")]


def test_saved_model_loads_with_plain_keras_and_equals_the_cached_feature_path(trained_mobilenet_run):
    from webapp.ml._keras import keras
    from webapp.ml.backbone import get_backbone
    from webapp.ml.model import get_extractor
    from webapp.ml.predict import load_run_model, predict_features, predict_images

    job, images, result, _ = trained_mobilenet_run
    model = keras.saving.load_model(result.model_path)
    batch = np.stack([images[sha] for sha, _, _ in job.items])
    probs = predict_images(model, batch)
    extractor = get_extractor(get_backbone("none", SIZE, job.backbone_dir, "mobilenet_v2"), 3)
    fast = load_run_model(job.model_dir)
    # The trained weights through both paths: float32 features -> trained part == the whole network.
    np.testing.assert_allclose(
        probs, predict_features(fast.trained_part, extractor(batch)), rtol=0, atol=1e-4
    )
    np.testing.assert_allclose(probs, predict_features(fast.trained_part, fast.extractor(batch)), atol=1e-4)
    # ...and, within float16 rounding of the cached features, what training reported.
    np.testing.assert_allclose(probs, result.probabilities, atol=2e-3)
    np.testing.assert_array_equal(probs.argmax(1), result.probabilities.argmax(1))


def test_predict_shas_and_arrays_with_a_mobilenet_run(trained_mobilenet_run, photos):
    from webapp.ml.pipeline import predict_arrays, predict_shas
    from webapp.ml.predict import ModelCache

    job, images, result, _ = trained_mobilenet_run
    new_images, new_items = photos({"test": 2}, seed=9)
    everything = {**images, **new_images}
    shas = [sha for sha, _, _ in job.items[:3]] + [sha for sha, _, _ in new_items]
    cache = ModelCache()
    probs = predict_shas(job.model_dir, job.feature_root, shas, everything.__getitem__, cache=cache)
    np.testing.assert_allclose(probs[:3], result.probabilities[:3], atol=1e-5)
    assert list(probs[3:].argmax(1)) == [label for _, label, _ in new_items]
    raw = predict_arrays(job.model_dir, [new_images[sha] for sha, _, _ in new_items], cache=cache)
    np.testing.assert_allclose(raw, probs[3:], atol=2e-3)


def test_precompute_uses_the_mobilenet_default_cut(tmp_path, backbone_dir, photos):
    from webapp.ml.features import FeatureCache
    from webapp.ml.pipeline import precompute_features

    images, items = photos({"train": 2}, seed=5)
    shas = [sha for sha, _, _ in items]
    args = ("none", SIZE, backbone_dir, tmp_path, shas, images.__getitem__)
    assert precompute_features(*args, backbone_name="mobilenet_v2") == len(shas)
    (folder,) = [p.name for p in tmp_path.iterdir()]
    assert folder.startswith("mobilenet_v2-none-") and folder.endswith("-block_16_project_BN")
    assert FeatureCache(tmp_path, folder).missing(shas) == []
    assert precompute_features(*args, backbone_name="mobilenet_v2") == 0


def _tflite(path, images):
    from webapp.ml._keras import tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    out = []
    for image in images:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image[None].astype(np.float32))
        interpreter.invoke()
        out.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0])
    return np.array(out)


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
def test_tflite_and_quantised_tflite_match_keras(trained_mobilenet_run, tmp_path):
    from webapp.ml._keras import keras
    from webapp.ml.artifacts import export_tflite

    job, images, result, _ = trained_mobilenet_run
    batch = np.stack([images[sha] for sha, _, _ in job.items])
    expected = keras.saving.load_model(result.model_path).predict(batch.astype(np.float32), verbose=0)
    plain = export_tflite(result.model_path, tmp_path / "model.tflite")
    np.testing.assert_allclose(_tflite(plain, batch), expected, atol=1e-4)
    small = export_tflite(result.model_path, tmp_path / "model-int8.tflite", quantise=True)
    assert small.stat().st_size < plain.stat().st_size / 2.5
    agree = (_tflite(small, batch).argmax(1) == expected.argmax(1)).mean()
    assert agree >= 0.95
