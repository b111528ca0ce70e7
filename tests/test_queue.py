"""The job queue under load: per-upload work is coalesced into one pending job, and Train jumps the queue."""

import io

import pytest

from tests.accounts import token_client
from tests.images import class_photo
from tests.live import wait_until
from tests.test_scale_out import redis_url  # noqa: F401 - a fixture
from tests.test_worker import upload_labeled, wait_run
from webapp import create_app, queue


def pending(app, name: str = "process_new_photos") -> int:
    return sum(1 for t in app.extensions["huey"].pending() if t.name == name)


def upload_one_by_one(client, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        data = {"files": (io.BytesIO(class_photo(i % 2, i, size=(40, 32))), f"p{i}.jpg")}
        response = client.post("/api/v1/photos", data=data, content_type="multipart/form-data")
        assert response.get_json()["results"][0]["status"] == "stored"


def test_a_burst_of_uploads_leaves_one_background_job(app, client):
    upload_one_by_one(client, 12)
    assert pending(app) == 1  # was one per upload: 5,206 after the probe's 150 s


def test_a_burst_of_uploads_leaves_one_background_job_on_redis(app_config, redis_url):  # noqa: F811
    app = create_app({**app_config, "QUEUE_URL": redis_url})
    upload_one_by_one(token_client(app), 6)
    assert pending(app) == 1


def test_photos_stored_while_a_round_works_get_a_round_of_their_own(app, client):
    huey = app.extensions["huey"]
    upload_one_by_one(client, 1)
    with app.app_context():
        huey.dequeue()  # the worker takes the job ...
        assert queue.new_photos_begin(huey)  # ... and starts its round
        upload_one_by_one(client, 2, start=1)  # stored meanwhile: queued again, once
        assert pending(app) == 1
        # A second worker takes that job while the first round still works: it leaves the work to it.
        huey.dequeue()
        assert not queue.new_photos_begin(huey)
        assert pending(app) == 0
        # The first round ends: it sees photos waited meanwhile and queues the next round.
        queue.new_photos_end(huey, more=False)
        assert pending(app) == 1
        huey.dequeue()
        assert queue.new_photos_begin(huey)
        queue.new_photos_end(huey, more=False)  # nothing came meanwhile: nothing more to do
        assert pending(app) == 0
        upload_one_by_one(client, 1, start=3)
        assert pending(app) == 1


def test_a_lost_job_does_not_stop_background_work_for_good(app, client):
    huey = app.extensions["huey"]
    upload_one_by_one(client, 1)
    huey.flush()  # the pending job is lost (a flushed queue); its flag is stale after a while
    with app.app_context():
        huey.put(queue.NEW_PHOTOS_PENDING, 0.0)  # flagged long ago
    upload_one_by_one(client, 1, start=1)
    assert pending(app) == 1


@pytest.mark.slow
def test_train_runs_before_a_backlog_of_background_jobs(live, tmp_path):
    live.start(with_worker=False)
    upload_labeled(live, per_class=6)
    # The same queue as the live app's (its instance folder): 200 background jobs waiting, as after a load.
    app = create_app({"INSTANCE_PATH": str(tmp_path), "BACKBONE_WEIGHTS": "none", "IMAGE_SIZE": 32})
    with app.app_context():
        for _ in range(200):
            queue.job("process_new_photos")()
    backlog = pending(app)
    run = live.post("/api/v1/runs", json={"epochs": 200, "batch_size": 1}).json()
    live.start_worker()  # one worker process: whatever it takes first runs alone
    wait_until(
        lambda: live.get(f"/api/v1/runs/{run['id']}").json()["status"] != "queued", 120, "Train never ran"
    )
    assert live.get(f"/api/v1/runs/{run['id']}").json()["status"] == "running"
    assert pending(app) == backlog  # none of the 200 ran before the Train pressed after them
    assert live.post(f"/api/v1/runs/{run['id']}/cancel").status_code == 200


@pytest.mark.slow
def test_photos_uploaded_one_by_one_all_get_the_active_models_prediction(live):
    live.start()
    upload_labeled(live, per_class=6)
    live.wait_for_worker()
    run = live.post("/api/v1/runs", json={"epochs": 3, "batch_size": 8}).json()
    done = wait_run(live, run["id"])
    assert done["status"] == "succeeded", done["error"]
    for i in range(10):  # ten requests, one photo each: coalesced rounds must still reach every one
        files = {"files": (f"new{i}.jpg", class_photo(i % 2, 100 + i), "image/jpeg")}
        assert live.post("/api/v1/photos", files=files).json()["results"][0]["status"] == "stored"
    wait_until(
        lambda: live.get(f"/api/v1/runs/{run['id']}/predictions?unlabeled=1").json()["total"] == 10,
        120,
        "the new photos were not all predicted",
    )


@pytest.mark.slow
def test_worker_processes_yield_the_cpu_to_the_web_server(live):
    import os
    import sqlite3
    from contextlib import closing

    live.start()
    live.wait_for_worker()
    with closing(sqlite3.connect(live.instance / "app.db")) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM worker_beat")]
    pids = [int(name.rpartition(":")[2]) for name in names]
    assert pids and all(os.getpriority(os.PRIO_PROCESS, pid) == 10 for pid in pids)
    assert os.getpriority(os.PRIO_PROCESS, live.web.pid) == 0
