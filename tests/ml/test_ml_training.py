"""A real small training run end to end: scores, files, reload, fast-path predictions, cancel, TFLite."""

import json
import random

import numpy as np
import pytest

from webapp.ml.errors import TrainingCancelled

pytestmark = pytest.mark.slow
SIZE = 32


def test_training_reaches_high_test_accuracy(trained_run):
    job, _, result, _ = trained_run
    assert result.metrics["accuracy"] >= 0.83  # 6 held-out photos: at most one wrong
    assert result.metrics["labels"] == ["beer", "wings"]
    assert sum(map(sum, result.metrics["confusion_matrix"])) == 6
    assert [row["epoch"] for row in result.history] == list(range(1, 11))
    assert set(result.history[-1]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"}
    assert result.probabilities.shape == (len(job.items), 2)
    assert result.features_computed == len(job.items)
    assert {"backbone", "features", "training", "evaluating", "saving", "total"} <= set(result.timings)


def test_progress_is_reported(trained_run):
    _, _, _, progress = trained_run
    assert [c[1] for c in progress.of("stage")] == [
        "backbone",
        "features",
        "training",
        "evaluating",
        "saving",
    ]
    assert progress.of("features")[-1] == ("features", 28, 28)
    batches = progress.of("batch")
    assert (
        len(batches) == 10 * 2
        and batches[0] == ("batch", 1, 10, 1, 2)
        and batches[-1] == ("batch", 10, 10, 2, 2)
    )
    epochs = progress.of("epoch")
    assert [c[1] for c in epochs] == list(range(1, 11))
    assert all(isinstance(c[2]["val_loss"], float) for c in epochs)


def test_saved_files(trained_run):
    job, _, result, _ = trained_run
    model_dir = job.model_dir
    assert result.model_path == model_dir / "model.keras"
    assert json.loads(result.labels_path.read_text()) == ["beer", "wings"]
    info = json.loads(result.info_path.read_text())
    assert info["image_size"] == SIZE and info["cut_layer"] == "block4_pool" and info["weights_identity"]
    assert result.curves_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in model_dir.iterdir() if p.name.startswith(".tmp-")]


def test_saved_model_loads_with_plain_keras_and_predicts_like_the_fast_path(trained_run):
    from webapp.ml._keras import keras
    from webapp.ml.backbone import get_backbone
    from webapp.ml.model import get_extractor
    from webapp.ml.predict import load_run_model, predict_features, predict_images

    job, images, result, _ = trained_run
    model = keras.saving.load_model(result.model_path)
    shas = [sha for sha, _, _ in job.items]
    batch = np.stack([images[sha] for sha in shas])
    probs = predict_images(model, batch)
    # Exactly the two-step computation on float32 features...
    extractor = get_extractor(get_backbone("none", SIZE, job.backbone_dir), 4)
    fast = load_run_model(job.model_dir)
    np.testing.assert_allclose(probs, predict_features(fast.trained_part, extractor(batch)), atol=1e-5)
    # ...and, within float16 rounding of the cached features, what training reported.
    np.testing.assert_allclose(probs, result.probabilities, atol=2e-3)
    np.testing.assert_array_equal(probs.argmax(1), result.probabilities.argmax(1))


def test_predict_shas_uses_and_fills_the_feature_cache(trained_run, photos):
    from webapp.ml.features import FeatureCache
    from webapp.ml.pipeline import predict_arrays, predict_shas
    from webapp.ml.predict import ModelCache

    job, images, result, _ = trained_run
    new_images, new_items = photos({"test": 2}, seed=9)
    everything = {**images, **new_images}
    shas = [sha for sha, _, _ in job.items[:3]] + [sha for sha, _, _ in new_items]
    cache = ModelCache()
    probs = predict_shas(job.model_dir, job.feature_root, shas, everything.__getitem__, cache=cache)
    assert probs.shape == (len(shas), 2)
    np.testing.assert_allclose(probs[:3], result.probabilities[:3], atol=1e-5)
    assert list(probs[3:].argmax(1)) == [label for _, label, _ in new_items]
    info = json.loads(result.info_path.read_text())
    assert FeatureCache(job.feature_root, info["feature_key"]).missing(shas) == []
    assert cache.get(job.model_dir) is cache.get(job.model_dir)  # loaded once
    raw = predict_arrays(job.model_dir, [new_images[sha] for sha, _, _ in new_items], cache=cache)
    np.testing.assert_allclose(raw, probs[3:], atol=2e-3)


def test_run_keeps_the_new_model_in_the_worker_cache(trained_run):
    from webapp.ml.predict import MODEL_CACHE

    job, _, _, _ = trained_run
    loaded = MODEL_CACHE.get(job.model_dir)
    assert loaded.labels == ["beer", "wings"]
    assert loaded.info["image_size"] == SIZE


def test_cancel_stops_at_the_next_batch(tmp_path, backbone_dir, backbone, photos, progress_factory):
    from webapp.ml.pipeline import TrainingJob, run_training
    from webapp.params import TrainParams

    images, items = photos({"train": 6}, seed=3)
    job = TrainingJob(
        "none", SIZE, backbone_dir, tmp_path / "f", tmp_path / "m", ["beer", "wings"], items,
        TrainParams(epochs=3, batch_size=4), images.__getitem__,
    )  # fmt: skip
    progress = progress_factory(cancel_after_batches=2)
    state = random.getstate()
    with pytest.raises(TrainingCancelled, match="epoch 1, batch 3"):
        run_training(job, progress)
    assert progress.batches == 2
    assert random.getstate() == state  # seeding Keras for the run did not leak into the worker
    assert not (tmp_path / "m" / "model.keras").exists()


def test_job_checks(tmp_path, backbone_dir, photos):
    from webapp.ml.pipeline import TrainingJob, run_training

    images, items = photos({"val": 1})
    job = TrainingJob(
        "none", SIZE, backbone_dir, tmp_path, tmp_path, ["a", "b"], items, load_image=images.get
    )
    with pytest.raises(ValueError, match="no training photos"):
        run_training(job)
    job.labels = ["a"]
    with pytest.raises(ValueError, match="at least two classes"):
        run_training(job)


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
def test_tflite_export_matches_keras(trained_run, tmp_path):
    from webapp.ml._keras import keras, tf
    from webapp.ml.artifacts import export_tflite

    _, images, result, _ = trained_run
    out = export_tflite(result.model_path, tmp_path / "model.tflite")
    interpreter = tf.lite.Interpreter(model_path=str(out))
    interpreter.allocate_tensors()
    image = next(iter(images.values()))[None].astype(np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
    interpreter.invoke()
    lite = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    model = keras.saving.load_model(result.model_path)
    np.testing.assert_allclose(lite, model.predict(image, verbose=0), atol=1e-4)


def test_precomputed_features_are_used_and_no_validation_split_is_fine(
    tmp_path, backbone_dir, photos, progress_factory
):
    from webapp.ml.pipeline import TrainingJob, precompute_features, run_training
    from webapp.params import TrainParams

    images, items = photos({"train": 4, "test": 1}, seed=4)
    shas = [sha for sha, _, _ in items]
    assert precompute_features("none", SIZE, backbone_dir, tmp_path / "f", shas, images.__getitem__) == len(
        shas
    )
    job = TrainingJob(
        "none", SIZE, backbone_dir, tmp_path / "f", tmp_path / "m", ["beer", "wings"], items,
        TrainParams(epochs=2), images.__getitem__,
    )  # fmt: skip
    progress = progress_factory()
    result = run_training(job, progress)
    assert result.features_computed == 0
    assert [set(row) for row in result.history] == [{"epoch", "loss", "accuracy"}] * 2
    assert all(set(call[2]) == {"loss", "accuracy"} for call in progress.of("epoch"))
    assert (tmp_path / "m" / "learning_curves.png").exists()
