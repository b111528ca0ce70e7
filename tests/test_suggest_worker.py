"""The suggestion job: debounced and one round at a time on the real queue, right on real features, and
undisturbed by a training run in the real worker."""

import io
from datetime import datetime

import pytest

from tests.images import class_photo
from tests.live import wait_until
from tests.test_worker import upload_labeled, wait_run
from webapp import queue
from webapp.db import db
from webapp.db.models import Suggestion
from webapp.queue import suggestions as coordination


def test_a_burst_of_label_changes_queues_one_round(app):
    with app.app_context():
        huey = queue.huey()
        assert coordination.enqueue() is True
        assert [coordination.enqueue() for _ in range(20)] == [False] * 20
        assert huey.pending_count() == 1


def test_rounds_never_overlap_and_a_skipped_job_gets_one_more_round(app):
    with app.app_context():
        huey = queue.huey()
        coordination.enqueue()
        assert coordination.begin(huey) is True  # worker process A works
        assert coordination.enqueue() is True  # a label while it works: the next round is queued
        assert coordination.enqueue() is False
        assert coordination.begin(huey) is None  # worker process B took that job: it must not run now
        coordination.end(huey)  # A ends and runs once more for B
        assert huey.pending_count() == 3
        assert coordination.begin(huey) is True
        coordination.end(huey)  # nobody was turned away this time: nothing more queued
        assert huey.pending_count() == 3
        # A queued job whose round a watching worker process has already done finds nothing to do.
        assert coordination.begin(huey) is False
        assert coordination.begin(huey, note=False) is False  # and the lock was given back


def test_settling_waits_for_the_labels_to_pause(app):
    with app.app_context():
        huey = queue.huey()
        coordination.enqueue()
        waits = []
        coordination.settle(huey, sleep=waits.append)
        assert waits and 0 < waits[0] <= coordination.SETTLE_SECONDS + 0.01
        huey.put(coordination.CHANGED, 0.0)  # labels paused long ago: no wait
        quiet = []
        coordination.settle(huey, sleep=quiet.append)
        assert quiet == []


@pytest.mark.slow
def test_suggestions_are_right_on_real_features_once_two_classes_have_two_labels(app, client):
    from webapp.worker.predicting import _precompute, live_photos
    from webapp.worker.suggesting import refresh_suggestions

    files = [(io.BytesIO(class_photo(k, i)), f"{k}_{i}.jpg") for k in (0, 1) for i in range(6)]
    results = client.post("/api/v1/photos", data={"files": files}).get_json()["results"]
    ids = {r["photo"]["filename"]: r["photo"]["id"] for r in results}
    client.patch(f"/api/v1/photos/{ids['0_0.jpg']}", json={"label": "beer"})
    client.patch(f"/api/v1/photos/{ids['1_0.jpg']}", json={"label": "wings"})
    with app.app_context():
        _precompute(live_photos())  # what process_new_photos does for each new photo
        assert refresh_suggestions()["status"] == "waiting"  # one label a class is not enough
        assert db.session.query(Suggestion).count() == 0
    client.patch(f"/api/v1/photos/{ids['0_1.jpg']}", json={"label": "beer"})
    client.patch(f"/api/v1/photos/{ids['1_1.jpg']}", json={"label": "wings"})
    with app.app_context():
        state = refresh_suggestions()
    assert state["status"] == "ready" and state["labeled"] == 4 and state["photos"] == 12
    right = 0
    for name, photo_id in ids.items():
        suggestion = client.get(f"/api/v1/photos/{photo_id}").get_json()["suggestion"]
        assert 0.5 <= suggestion["confidence"] <= 1
        right += suggestion["label"] == ("beer" if name.startswith("0_") else "wings")
    assert right >= 11


@pytest.mark.slow
def test_suggestions_follow_labels_while_a_training_run_trains(live):
    live.start()
    upload_labeled(live, per_class=8)
    extra = [("files", (f"new_{i}.jpg", class_photo(i % 2, 50 + i), "image/jpeg")) for i in range(4)]
    new = [r["photo"]["id"] for r in live.post("/api/v1/photos", files=extra).json()["results"]]
    live.wait_for_worker()
    ready = wait_until(
        lambda: (s := live.get("/api/v1/suggestions").json())["state"]["status"] == "ready" and s,
        120,
        "no suggestions after labeling",
    )
    run = live.post("/api/v1/runs", json={"epochs": 100, "batch_size": 4}).json()
    # A label given while the run trains: a new round follows it in the other worker process.
    assert ready["state"]["labeled"] == 16
    assert live.patch(f"/api/v1/photos/{new[0]}", json={"label": "beer"}).status_code == 200
    after = wait_until(
        lambda: (s := live.get("/api/v1/suggestions").json())["state"]["labeled"] == 17 and s,
        120,
        "the suggestions did not follow a label given during training",
    )
    done = wait_run(live, run["id"])
    assert done["status"] == "succeeded", done["error"]
    # The round did not wait for the run to end (nor did the run wait for it).
    assert after["state"]["updated_at"] < datetime.fromisoformat(done["finished_at"]).timestamp()
    assert live.get(f"/api/v1/photos/{new[1]}").json()["suggestion"]["label"] in ("beer", "wings")
