"""The TFLite export as a job: asking queues it once, the run shows its state, the download never waits."""

import pytest

from tests.test_api_runs import fake_files, fetch, get_run, insert_run, models_dir
from webapp.db import db
from webapp.db.models import TrainingRun, WorkerBeat


@pytest.fixture
def worker_alive(app):
    """A worker that beat just now (nothing consumes the queue: the jobs stay pending to be looked at)."""
    with app.app_context():
        db.session.add(WorkerBeat(name="elsewhere:1"))
        db.session.commit()


def pending_exports(app) -> list[tuple]:
    return [t.args for t in app.extensions["huey"].pending() if t.name == "export_tflite"]


def download(client, run_id: int):
    return fetch(client, f"/runs/{run_id}/download/model.tflite")


def test_before_anyone_asks_the_download_says_how_to_make_it(app, client):
    run_id = insert_run(app, "succeeded", files=fake_files())
    assert get_run(client, run_id)["tflite"]["state"] == "none"
    response = download(client, run_id)
    assert response.status_code == 409
    assert "has not been made yet" in response.get_json()["error"]
    assert f"/api/v1/runs/{run_id}/tflite" in response.get_json()["error"]
    assert pending_exports(app) == []  # a GET starts nothing


def test_asking_queues_one_conversion_and_the_download_answers_at_once(app, client, worker_alive):
    run_id = insert_run(app, "succeeded", files=fake_files())
    response = client.post(f"/api/v1/runs/{run_id}/tflite")
    assert response.status_code == 202
    assert response.get_json()["tflite"]["state"] == "converting"
    assert client.post(f"/api/v1/runs/{run_id}/tflite").status_code == 202  # a second click
    assert pending_exports(app) == [(run_id,)]
    waiting = download(client, run_id)
    assert waiting.status_code == 202 and waiting.headers["Retry-After"] == "5"
    assert waiting.get_json()["status"] == "converting"
    # The worker writes the file (see test_worker): then it is served.
    (models_dir(app) / str(run_id) / "model.tflite").write_bytes(b"\x1c\x00\x00\x00TFL3 fake")
    ready = download(client, run_id)
    assert ready.status_code == 200 and ready.get_data()[4:8] == b"TFL3"
    assert "attachment" in ready.headers["Content-Disposition"]
    assert get_run(client, run_id)["tflite"]["state"] == "ready"
    assert get_run(client, run_id)["tflite"]["quantised_url"] is None  # converted before the 8-bit file
    (models_dir(app) / str(run_id) / "model-int8.tflite").write_bytes(b"\x1c\x00\x00\x00TFL3 small")
    small_url = get_run(client, run_id)["tflite"]["quantised_url"]
    assert small_url == f"/runs/{run_id}/download/model-int8.tflite"
    assert fetch(client, small_url).get_data().endswith(b"small")


def test_a_failed_conversion_says_why_and_can_be_asked_again(app, client, worker_alive):
    failed = {"tflite_state": "failed", "tflite_error": "OSError: bad"}
    run_id = insert_run(app, "succeeded", files=fake_files(), **failed)
    assert get_run(client, run_id)["tflite"] == {
        "state": "failed",
        "error": "OSError: bad",
        "url": f"/runs/{run_id}/download/model.tflite",
        "quantised_url": None,
    }
    response = download(client, run_id)
    assert response.status_code == 409 and "conversion failed: OSError: bad" in response.get_json()["error"]
    assert client.post(f"/api/v1/runs/{run_id}/tflite").get_json()["tflite"]["state"] == "converting"
    assert pending_exports(app) == [(run_id,)]


def test_a_conversion_lost_with_its_worker_can_be_asked_again(app, client, worker_alive):
    from datetime import UTC, datetime, timedelta

    long_ago = datetime.now(UTC) - timedelta(hours=1)
    run_id = insert_run(app, "succeeded", files=fake_files(), tflite_state="converting", tflite_at=long_ago)
    assert client.post(f"/api/v1/runs/{run_id}/tflite").status_code == 202
    assert pending_exports(app) == [(run_id,)]


def test_asking_without_a_worker_is_503_and_changes_nothing(app, client):
    run_id = insert_run(app, "succeeded", files=fake_files())
    response = client.post(f"/api/v1/runs/{run_id}/tflite")
    assert response.status_code == 503 and "No worker is running" in response.get_json()["error"]
    assert get_run(client, run_id)["tflite"]["state"] == "none" and pending_exports(app) == []


@pytest.mark.parametrize("status", ["failed", "running"])
def test_a_run_without_a_model_cannot_be_converted(app, client, worker_alive, status):
    run_id = insert_run(app, status)
    assert client.post(f"/api/v1/runs/{run_id}/tflite").status_code == 409
    assert download(client, run_id).status_code == 404
    assert client.post("/api/v1/runs/999/tflite").status_code == 404


@pytest.mark.slow
def test_the_worker_job_records_a_failure_in_words(app):
    from webapp.worker.exports import tflite_job

    run_id = insert_run(app, "succeeded", files=fake_files(), tflite_state="converting")
    with app.app_context():
        assert tflite_job(run_id) is None  # fake_files' model.keras is no model
        run = db.session.get(TrainingRun, run_id)
        assert run.tflite_state == "failed" and run.tflite_error
    assert not (models_dir(app) / str(run_id) / "model.tflite").exists()


def test_a_ready_tflite_file_counts_in_the_run_size_as_on_the_disk_figure(app, client):
    # Why Train said "models 128 MB" beside a run of 64 MB: the TFLite file was on the disk, not in the run.
    from webapp.worker.exports import record_ready

    run_id = insert_run(app, "succeeded", files=fake_files(), tflite_state="converting")
    tflite = b"\x1c\x00\x00\x00TFL3" + b"x" * 5000
    (models_dir(app) / str(run_id) / "model.tflite").write_bytes(tflite)
    with app.app_context():
        record_ready(run_id)
    run = get_run(client, run_id)
    assert run["tflite"]["state"] == "ready"
    assert run["model_bytes"] == sum(len(b) for b in fake_files().values()) + len(tflite)
    assert client.get("/api/v1/storage").get_json()["models_bytes"] == run["model_bytes"]


def test_a_tflite_file_made_after_its_run_files_were_deleted_adds_no_files(app, client):
    from webapp.worker.exports import record_ready

    run_id = insert_run(app, "succeeded", tflite_state="converting")
    with app.app_context():
        record_ready(run_id)
    run = get_run(client, run_id)
    assert run["has_model_files"] is False and run["model_bytes"] == 0
