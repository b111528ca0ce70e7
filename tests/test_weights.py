"""Backbone weights on a machine without them: where they stand, uploading the file, a failed run's fix."""

import io
import json
from pathlib import Path

import pytest

from tests.test_api_runs import get_run, insert_run
from webapp.db import db
from webapp.db.models import WeightsUpload
from webapp.params import IMAGENET_FILES

HDF5 = b"\x89HDF\r\n\x1a\n"
DOWNLOAD_ERROR = (
    "Could not get the ImageNet weights for VGG16 (Exception: URL fetch failure on https://storage.googleapis"
    ".com/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5: None -- "
    "[Errno -3] Temporary failure in name resolution)."
)


@pytest.fixture
def app_config(app_config, tmp_path, monkeypatch):
    """The default setting (imagenet) on a machine that has never downloaded the weights."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return {**app_config, "BACKBONE_WEIGHTS": "imagenet"}


def status(client, name="vgg16") -> dict:
    answer = client.get("/api/v1/weights").get_json()
    return next(b for b in answer["backbones"] if b["backbone"] == name)


def weights_dir(app) -> Path:
    return Path(app.config["INSTANCE_PATH"]) / "backbone" / "imagenet"


def send(client, body: bytes, backbone="vgg16", name="weights.h5"):
    data = {"file": (io.BytesIO(body), name), "backbone": backbone}
    return client.post("/api/v1/weights", data=data, content_type="multipart/form-data")


def pending_checks(app) -> list[tuple]:
    return [t.args for t in app.extensions["huey"].pending() if t.name == "check_weights"]


def test_before_the_first_train_the_weights_will_be_downloaded_once(client):
    vgg, mobilenet = status(client), status(client, "mobilenet_v2")
    assert vgg["state"] == "download" and "~56 MB" in vgg["message"] and "once" in vgg["message"]
    assert mobilenet["state"] == "download" and "~9 MB" in mobilenet["message"]
    assert vgg["upload"] is None and vgg["last_error"] is None


def test_weights_keras_downloaded_before_are_cached(client, tmp_path):
    cache = tmp_path / "keras" / "models"
    cache.mkdir(parents=True)
    (cache / IMAGENET_FILES["vgg16"]).write_bytes(HDF5)
    assert status(client)["state"] == "cached"
    assert status(client, "mobilenet_v2")["state"] == "download"


def test_a_failed_download_is_said_with_its_reason(app, client):
    folder = weights_dir(app)
    folder.mkdir(parents=True)
    (folder / "vgg16.failed.json").write_text(json.dumps({"error": DOWNLOAD_ERROR, "at": "now"}))
    vgg = status(client)
    assert vgg["state"] == "failed" and "failed" in vgg["message"]
    assert "Temporary failure in name resolution" in vgg["last_error"]


def test_a_run_that_could_not_download_the_weights_offers_the_upload(app, client):
    failed = {
        "error": DOWNLOAD_ERROR,
        "weights": "imagenet",
        "progress": {"stage": "failed", "failure": "weights"},
    }
    run = get_run(client, insert_run(app, "failed", **failed))
    assert run["failure"]["kind"] == "weights" and run["failure"]["fix"] == "upload_weights"
    assert "could not be downloaded" in run["failure"]["summary"] and "http" not in run["failure"]["summary"]
    assert run["error"] == DOWNLOAD_ERROR  # the details stay, folded on the page


@pytest.mark.parametrize(
    ("fields", "kind", "fix"),
    [
        ({"error": "Training failed during epoch 2: boom"}, "error", "train_again"),
        ({"error": "x", "progress": {"failure": "disk_full"}}, "disk_full", "free_disk"),
        # An uploaded file that no longer loads: uploading a good one fixes it.
        (
            {"error": "Could not load", "weights": "imagenet", "progress": {"failure": "weights"}},
            "weights",
            "upload_weights",
        ),
        (
            {"error": "Could not load", "weights": "/x.h5", "progress": {"failure": "weights"}},
            "weights",
            None,
        ),
        ({"error": "The worker stopped unexpectedly; press Train to start again"}, "stopped", "train_again"),
    ],
)
def test_other_failures_say_their_cause_and_fix(app, client, fields, kind, fix):
    run = get_run(client, insert_run(app, "failed", **fields))
    assert (run["failure"]["kind"], run["failure"]["fix"]) == (kind, fix)
    assert get_run(client, insert_run(app, "succeeded"))["failure"] is None


def test_a_file_that_is_not_hdf5_is_refused_at_once_and_nothing_is_kept(app, client):
    response = send(client, b"<html>a login page saved by mistake</html>")
    assert response.status_code == 400
    assert "not a Keras weights file" in response.get_json()["error"]
    assert IMAGENET_FILES["vgg16"] in response.get_json()["error"]
    assert pending_checks(app) == []
    incoming = weights_dir(app).parent / "incoming"
    assert not incoming.exists() or not any(incoming.iterdir())


def test_an_uploaded_file_is_queued_for_the_worker_to_check(app, client):
    response = send(client, HDF5 + b"\0" * 1000, name=IMAGENET_FILES["vgg16"])
    assert response.status_code == 202, response.get_json()
    upload = response.get_json()
    assert upload["status"] == "queued" and upload["size_bytes"] == 1008 and upload["backbone"] == "vgg16"
    assert pending_checks(app) == [(upload["id"],)]
    assert client.get(upload["url"]).get_json()["status"] == "queued"
    assert status(client)["upload"]["id"] == upload["id"]
    assert status(client)["state"] == "download"  # not used before a worker loaded it


def test_an_upload_no_worker_checked_reads_as_failed_with_words(app, client):
    from datetime import UTC, datetime, timedelta

    upload = send(client, HDF5 + b"\0" * 10).get_json()
    with app.app_context():
        row = db.session.get(WeightsUpload, upload["id"])
        row.created_at = datetime.now(UTC) - timedelta(hours=1)
        db.session.commit()
    lost = client.get(upload["url"]).get_json()
    assert lost["status"] == "failed" and "upload it again" in lost["error"]


def test_only_admins_upload_and_only_for_known_backbones(app, client):
    from tests.accounts import make_admin, token_client

    assert send(client, HDF5, backbone="resnet").status_code == 400
    labeler = token_client(app, make_admin(app, "lab", "a-long-password-1", role="labeler"))
    assert send(labeler, HDF5).status_code == 403


def test_with_another_setting_an_upload_would_not_be_used(make_app):
    from tests.accounts import make_admin, token_client

    other = make_app(BACKBONE_WEIGHTS="none")
    client = token_client(other, make_admin(other))
    assert status(client)["state"] == "random"
    assert send(client, HDF5).status_code == 409


def test_a_weights_file_setting_that_names_nothing_is_said(make_app, tmp_path):
    from tests.accounts import make_admin, token_client

    other = make_app(BACKBONE_WEIGHTS=str(tmp_path / "nowhere.h5"))
    client = token_client(other, make_admin(other))
    vgg = status(client)
    assert vgg["state"] == "missing" and "does not exist" in vgg["message"]


def received(app, path: Path) -> int:
    """Hand a file to the upload service as the view does (a large body is spooled to disk by Werkzeug)."""
    from werkzeug.datastructures import FileStorage

    from webapp.services.weights_uploads import start_upload

    with app.app_context(), path.open("rb") as stream:
        return start_upload("vgg16", FileStorage(stream=stream, filename=path.name)).id


@pytest.mark.slow
def test_the_worker_keeps_a_file_that_loads_and_refuses_one_that_does_not(app, client):
    """Real Keras: a VGG16 weights file loads and is kept; a wrong HDF5 file fails and the kept one stays."""
    import h5py

    from webapp.ml.backbone import none_weights_path
    from webapp.worker.weights import check_weights

    good = none_weights_path(weights_dir(app).parent / "made", "vgg16")
    first = received(app, good)
    with app.app_context():
        check_weights(first)
    assert client.get(f"/api/v1/weights/uploads/{first}").get_json()["status"] == "succeeded"
    kept = weights_dir(app) / IMAGENET_FILES["vgg16"]
    assert kept.read_bytes() == good.read_bytes() and status(client)["state"] == "uploaded"

    wrong = weights_dir(app).parent / "wrong.h5"
    with h5py.File(wrong, "w") as f:
        f.create_dataset("something", data=[1, 2, 3])
    second = received(app, wrong)
    with app.app_context():
        check_weights(second)
        row = db.session.get(WeightsUpload, second)
        assert row.status == "failed" and "Nothing was changed" in row.error
    assert kept.read_bytes() == good.read_bytes() and status(client)["state"] == "uploaded"
    assert not any((weights_dir(app).parent / "incoming").iterdir())
