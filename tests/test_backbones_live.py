"""Both backbones through the real app and worker (weights none, 32 px): the default backbone's features
computed in the background, train, predict all, the predict API, downloads, switching WEBAPP_BACKBONE."""

import io
import zipfile

import pytest

from tests.images import plain_class_photo
from tests.live import LiveApp, app_env, wait_until
from tests.test_worker import upload_labeled, wait_run

pytestmark = pytest.mark.slow


def started(instance, backbone: str) -> LiveApp:
    """`python -m webapp` on this instance with WEBAPP_BACKBONE=backbone, its worker up."""
    live = LiveApp(instance, app_env(instance, WEBAPP_WTF_CSRF_ENABLED="false", WEBAPP_BACKBONE=backbone))
    live.start()
    live.wait_for_worker()
    return live


def feature_files(instance, prefix: str) -> int:
    """Cached feature files in the folders whose key starts with prefix."""
    return sum(1 for folder in (instance / "features").glob(prefix + "*") for _ in folder.rglob("*.npy"))


def train(live: LiveApp, body: dict) -> dict:
    response = live.post("/api/v1/runs", json=body)
    assert response.status_code == 202, response.text
    run = wait_run(live, response.json()["id"])
    assert run["status"] == "succeeded", run["error"]
    return run


def check_model_in_use(live: LiveApp, run: dict) -> None:
    """Predictions of every photo, the predict API and the downloads of a run that is the active model."""
    preds = live.get(f"/api/v1/runs/{run['id']}/predictions?per_page=100").json()
    assert preds["total"] == 16
    assert sum(p["label"] == p["true_label"] for p in preds["predictions"]) >= 14
    answer = live.post("/api/v1/predict", files={"file": ("x.jpg", plain_class_photo(1, 99), "image/jpeg")})
    assert answer.status_code == 200, answer.text
    assert answer.json()["label"] == "wings" and answer.json()["run_id"] == run["id"]
    assert live.get(f"/runs/{run['id']}/download/labels.json").json() == ["beer", "wings"]
    model = live.get(f"/runs/{run['id']}/download/model.keras")
    assert model.status_code == 200
    assert "config.json" in zipfile.ZipFile(io.BytesIO(model.content)).namelist()


def test_both_backbones_train_predict_and_download_and_the_default_can_change(tmp_path):
    live = started(tmp_path, "mobilenet_v2")
    try:
        upload_labeled(live, make=plain_class_photo)
        # The worker computes the default backbone's features of new photos before anyone presses Train.
        wait_until(lambda: feature_files(tmp_path, "mobilenet_v2-none-") == 16, 120, "no background features")
        assert feature_files(tmp_path, "vgg16-") == 0
        mobile = train(live, {"epochs": 20, "batch_size": 4})
        assert mobile["backbone"] == "mobilenet_v2" and mobile["params"]["backbone"] == "mobilenet_v2"
        assert mobile["timings"]["features_computed"] == 0  # the background work was used
        assert mobile["metrics"]["accuracy"] >= 0.9
        check_model_in_use(live, mobile)
        assert live.post(f"/api/v1/runs/{mobile['id']}/tflite").status_code == 202
        done = wait_until(
            lambda: (
                (t := live.get(f"/api/v1/runs/{mobile['id']}").json()["tflite"])["state"] != "converting"
                and t
            ),
            300,
            "the TFLite conversion did not finish",
        )
        assert done["state"] == "ready", done["error"]
        tflite = live.get(f"/runs/{mobile['id']}/download/model.tflite")
        assert tflite.content[4:8] == b"TFL3" and len(tflite.content) < 10 * 1024**2
        vgg = train(live, {"backbone": "vgg16", "epochs": 20, "batch_size": 4})
        assert vgg["backbone"] == "vgg16" and vgg["params"]["backbone"] == "vgg16"
        assert vgg["timings"]["features_computed"] == 16
        check_model_in_use(live, vgg)
    finally:
        live.stop()
    # Switching the default: the next run without a choice is a VGG16 run, with VGG16's defaults.
    live = started(tmp_path, "vgg16")
    try:
        third = train(live, {"epochs": 20, "batch_size": 4})
        assert third["backbone"] == "vgg16" and third["params"]["learning_rate"] == 1e-4
        assert third["timings"]["features_computed"] == 0  # VGG16's cache from the run before
        runs = live.get("/api/v1/runs").json()
        assert [r["backbone"] for r in runs] == ["vgg16", "vgg16", "mobilenet_v2"]
        # Each backbone has its own cache folder; nothing was mixed.
        folders = sorted(p.name.split("-")[0] for p in (tmp_path / "features").iterdir())
        assert folders == ["mobilenet_v2", "vgg16"]
        assert feature_files(tmp_path, "mobilenet_v2-") == feature_files(tmp_path, "vgg16-") == 16
    finally:
        live.stop()
