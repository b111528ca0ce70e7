"""Faults with the real processes (issue 8, "Faults"): kill -9 of a worker mid-epoch and while it writes the
model files, kill -9 of the web process mid-upload, a full disk during a model save.

Each must leave no orphan rows or files, Train working again at once, and the previous model serving.
"""

import contextlib
import errno
import io
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests.images import class_photo, noisy_jpeg
from tests.live import ROOT, LiveApp, app_env, wait_until
from tests.test_worker import label_photos, train_here, upload_labeled, wait_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A live app (web, and a worker started on its own) with one trained model answering predictions."""
    instance = tmp_path_factory.mktemp("faults")
    live = LiveApp(instance, app_env(instance, WEBAPP_WTF_CSRF_ENABLED="false"))
    live.start(with_worker=False)
    try:
        upload_labeled(live, per_class=6)
        live.start_worker()
        live.wait_for_worker()
        run = live.post("/api/v1/runs", json={"epochs": 2, "batch_size": 4}).json()
        assert wait_run(live, run["id"])["status"] == "succeeded"
        yield live, run["id"]
    finally:
        live.stop()


def worker_pid(live: LiveApp, run_id: int) -> int:
    """The pid of the forked worker process that trains a run (from its row)."""
    with sqlite3.connect(live.instance / "app.db") as conn:
        worker = conn.execute("SELECT worker FROM training_run WHERE id = ?", (run_id,)).fetchone()[0]
    return int(worker.rpartition(":")[2])


def assert_model_still_serves(live: LiveApp, model_run: int) -> None:
    """The previous model answers a prediction, and is the active one."""
    answer = live.post("/api/v1/predict", files={"file": ("x.jpg", class_photo(1, 77), "image/jpeg")})
    assert answer.status_code == 200, answer.text
    assert answer.json()["run_id"] == model_run
    assert live.get(f"/api/v1/runs/{model_run}").json()["active"] is True


def assert_no_leftover_model_files(live: LiveApp, run_id: int) -> None:
    """No folder or half-written file of a failed run under models/."""
    models = live.instance / "models"
    assert not (models / str(run_id)).exists()
    assert not [p for p in models.rglob("*") if p.name.startswith((".tmp-", ".removed-"))]


def train_works_again(live: LiveApp) -> None:
    """Train is accepted at once (no run left blocking it); the new run is cancelled for the next test."""
    again = live.post("/api/v1/runs", json={"epochs": 1})
    assert again.status_code == 202, again.text
    live.post(f"/api/v1/runs/{again.json()['id']}/cancel")
    wait_run(live, again.json()["id"], timeout=120)


def test_kill_9_of_a_worker_mid_epoch(served):
    live, model_run = served
    run = live.post("/api/v1/runs", json={"epochs": 200, "batch_size": 1}).json()
    wait_until(
        lambda: live.get(f"/api/v1/runs/{run['id']}").json()["progress"].get("epoch", 0) >= 2,
        120,
        "training did not reach epoch 2",
    )
    os.kill(worker_pid(live, run["id"]), signal.SIGKILL)
    # The consumer starts a new worker process, which fails the run it finds dead: within the stale window.
    done = wait_run(live, run["id"], until=("failed", "succeeded", "cancelled"), timeout=60)
    assert done["status"] == "failed"
    assert "The worker stopped during epoch" in done["error"] and "press Train" in done["error"]
    assert_no_leftover_model_files(live, run["id"])
    assert_model_still_serves(live, model_run)
    train_works_again(live)


def test_kill_9_of_a_worker_while_it_writes_the_model_files(served):
    live, model_run = served
    run = live.post("/api/v1/runs", json={"epochs": 2, "batch_size": 4}).json()
    folder = live.instance / "models" / str(run["id"])

    def writing_the_model():
        return folder.is_dir() and any(p.name.startswith(".tmp-") for p in folder.iterdir())

    wait_until(writing_the_model, 120, "the model file was never being written", interval=0.005)
    os.kill(worker_pid(live, run["id"]), signal.SIGKILL)
    done = wait_run(live, run["id"], until=("failed", "succeeded", "cancelled"), timeout=60)
    assert done["status"] == "failed"
    assert done["error"] == "The worker stopped during saving; press Train to start again"
    assert done["has_model_files"] is False
    assert_no_leftover_model_files(live, run["id"])  # the half model is gone with its folder
    assert_model_still_serves(live, model_run)
    train_works_again(live)


def stored_shas(live: LiveApp) -> dict[str, int]:
    """sha256 -> id of every photo the database holds."""
    photos = live.get("/api/v1/photos?per_page=200").json()["photos"]
    return {p["sha256"]: p["id"] for p in photos}


def files_of(instance, sha: str) -> list:
    """Every file named after a photo, under photos/ and features/."""
    return [p for top in ("photos", "features") for p in (instance / top).rglob(f"{sha}.*")]


def test_kill_9_of_the_web_process_mid_upload_then_check_repair(served):
    import hashlib

    live, model_run = served
    uploads = [(f"big{i}.jpg", noisy_jpeg(1600, 1200, seed=100 + i)) for i in range(30)]
    shas = {hashlib.sha256(data).hexdigest() for _name, data in uploads}
    before = len(stored_shas(live))
    originals = live.instance / "photos" / "originals"

    def post():
        files = [("files", (name, data, "image/jpeg")) for name, data in uploads]
        with contextlib.suppress(requests.RequestException):  # the server dies under it
            live.post("/api/v1/photos", files=files, timeout=120)

    sender = threading.Thread(target=post, daemon=True)
    sender.start()
    new_files = lambda: sum(1 for p in originals.rglob("*.jpg") if p.stem in shas)  # noqa: E731
    wait_until(lambda: new_files() >= 5, 120, "the upload did not start storing")
    os.kill(live.web.pid, signal.SIGKILL)
    live.web.wait()
    sender.join(30)
    assert 5 <= new_files() < 30  # killed in the middle
    seen = len(live.log_text("web"))
    live.start(with_worker=False)  # the same instance; the separate worker kept running
    wait_until(lambda: "store check (cheap)" in live.log_text("web")[seen:], 30, "no start-up check line")
    repair = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "webapp", "check", "--repair", "--grace", "0"],
        cwd=ROOT,
        env=live.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert repair.returncode == 0, repair.stdout + repair.stderr
    rows = stored_shas(live)
    assert before < len(rows) < before + 30
    for sha in shas:  # every file of the upload: whole (row, original, derived copies) or absent
        names = {
            p.parent.parent.name
            for p in files_of(live.instance, sha)
            if p.parent.parent.parent.name == "photos"
        }
        if sha in rows:
            assert {"originals", "display", "thumbs", "model32"} <= names, sha
        else:
            assert files_of(live.instance, sha) == [], sha
    assert_model_still_serves(live, model_run)


# ---------------------------------------------------------------- a full disk


def test_a_full_disk_while_saving_the_model_fails_the_run_in_plain_words(
    app, client, instance_path, monkeypatch
):
    from webapp.ml import artifacts
    from webapp.worker.predicting import predict_image

    label_photos(client)
    first = train_here(app)
    assert first["status"] == "succeeded", first["error"]
    real_write = artifacts.atomic_write

    def disk_fills_up(path, write, suffix=""):  # the fault, at the boundary where model files are written
        def partial(tmp):
            tmp.write_bytes(b"PK\x03\x04 half a model")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        return real_write(path, partial if str(path).endswith("model.keras") else write, suffix)

    monkeypatch.setattr(artifacts, "atomic_write", disk_fills_up)
    photos_before = client.get("/api/v1/photos").get_json()["total"]
    second = train_here(app)
    assert second["status"] == "failed"
    assert "Training failed during saving: the disk is full" in second["error"]
    assert not (instance_path / "models" / str(second["id"])).exists()  # no half model, no partial folder
    assert not list((instance_path / "models").rglob(".tmp-*"))
    # The database is intact and the previous model is still the active one and answers.
    assert client.get("/api/v1/photos").get_json()["total"] == photos_before
    assert client.get(f"/api/v1/runs/{first['id']}").get_json()["active"] is True
    with app.app_context():
        answer = predict_image(_array(class_photo(1, 5)))
    assert answer["run_id"] == first["id"]


def _array(data: bytes):
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB").resize((32, 32)))


@pytest.fixture
def small_models_disk(tmp_path):
    """instance/models on a tmpfs big enough for one model, not two (root and mount needed: else skipped)."""
    models = tmp_path / "models"
    models.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=90m", "tmpfs", str(models)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield models
    for _ in range(20):
        if subprocess.run(["umount", str(models)]).returncode == 0:
            return
        time.sleep(0.5)


def test_a_really_full_disk_while_saving_the_model(small_models_disk, tmp_path):
    live = LiveApp(tmp_path, app_env(tmp_path, WEBAPP_WTF_CSRF_ENABLED="false"))
    try:
        live.start()
        upload_labeled(live, per_class=6)
        live.wait_for_worker()
        first = wait_run(live, live.post("/api/v1/runs", json={"epochs": 1}).json()["id"])
        assert first["status"] == "succeeded", first["error"]
        second = wait_run(live, live.post("/api/v1/runs", json={"epochs": 1}).json()["id"])
        assert second["status"] == "failed"
        assert "the disk is full" in second["error"], second["error"]
        assert_no_leftover_model_files(live, second["id"])
        assert_model_still_serves(live, first["id"])
        assert live.get("/api/v1/photos").json()["total"] == 12
    finally:
        live.stop()
