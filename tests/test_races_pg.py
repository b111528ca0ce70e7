"""Lost updates on PostgreSQL (issue 8, defect 3): two transactions read a row and both write it.

SQLite's BEGIN IMMEDIATE serialises writers and hides these races. Here a hook on the real engine pauses one
thread at a chosen statement while the other side runs (to its end, or until PostgreSQL makes it wait for a
row lock), then lets the first go on: the interleaving that loses an update, every time.
"""

import io
import re
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select, text

from tests.accounts import token_client
from tests.images import class_photo
from tests.live import wait_until
from tests.test_scale_out import pg_url  # noqa: F401 - the fixture

HOST = socket.gethostname()


@pytest.fixture
def pg_app(pg_url, tmp_path):  # noqa: F811 - the fixture imported above
    """The app on a fresh PostgreSQL schema."""
    from webapp import create_app

    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": pg_url,
            "WTF_CSRF_ENABLED": False,
            "BACKBONE_WEIGHTS": "none",
            "IMAGE_SIZE": 32,
            "SECRET_KEY": "test",
        }
    )
    yield app
    with app.app_context():
        from webapp.db import db

        db.session.remove()
        db.engine.dispose()


class PauseAt:
    """Pause the thread named "paused" once, before (or after) it sends a statement matching pattern."""

    def __init__(self, app, pattern: str, after: bool = False):
        with app.app_context():
            from webapp.db import db

            self.engine = db.engine
        self.pattern = re.compile(pattern, re.IGNORECASE | re.DOTALL)
        self.kind = "after_cursor_execute" if after else "before_cursor_execute"
        self.reached, self.release = threading.Event(), threading.Event()

    def _hook(self, _conn, _cursor, statement, *_args):
        if threading.current_thread().name != "paused" or self.reached.is_set():
            return
        if self.pattern.search(statement):
            self.reached.set()
            self.release.wait(60)

    def __enter__(self):
        event.listen(self.engine, self.kind, self._hook)
        return self

    def __exit__(self, *exc):
        self.release.set()
        event.remove(self.engine, self.kind, self._hook)


class Side(threading.Thread):
    """A thread that runs fn() in an app context and keeps its result or exception."""

    def __init__(self, app, fn, name: str):
        super().__init__(name=name, daemon=True)
        self.app, self.fn, self.result, self.error = app, fn, None, None
        self.done = threading.Event()

    def run(self):
        try:
            with self.app.app_context():
                from webapp.db import db

                try:
                    self.result = self.fn()
                finally:
                    db.session.remove()
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()

    def outcome(self):
        """The result, once the thread has ended (its exception re-raised)."""
        self.join(60)
        assert not self.is_alive(), f"{self.name} is stuck"
        if self.error is not None:
            raise self.error
        return self.result


def waits_for_a_lock(app) -> bool:
    """Whether some other session of this database is waiting for a row lock."""
    with app.app_context():
        from webapp.db import db

        waiting = db.session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        db.session.remove()
        return waiting > 0


def insert_run(app, status: str, worker: str | None = None) -> int:
    """A run row in this status; its id."""
    with app.app_context():
        from webapp.db import db
        from webapp.db.models import TrainingRun

        run = TrainingRun(
            status=status,
            params={"epochs": 1},
            dataset={"labels": ["beer", "wings"], "items": []},
            progress={"stage": status},
            worker=worker,
            heartbeat_at=datetime.now(UTC) if status == "running" else None,
        )
        db.session.add(run)
        db.session.commit()
        run_id = run.id
        db.session.remove()
        return run_id


def run_row(app, run_id: int):
    """(status, error, cancel_requested) of a run, read afresh."""
    with app.app_context():
        from webapp.db import db
        from webapp.db.models import TrainingRun

        row = db.session.execute(
            select(TrainingRun.status, TrainingRun.error, TrainingRun.cancel_requested).where(
                TrainingRun.id == run_id
            )
        ).one()
        db.session.remove()
        return row


@pytest.fixture
def dead_worker() -> str:
    """host:pid of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return f"{HOST}:{child.pid}"


# ---------------------------------------------------------------- claim vs cancel


def test_a_run_cancelled_while_a_worker_claims_it_never_trains(pg_app):
    from webapp.worker.jobs import claim_run

    run_id = insert_run(pg_app, "queued")
    with PauseAt(pg_app, r"^\s*UPDATE training_run") as pause:
        worker = Side(pg_app, lambda: claim_run(run_id) is not None, "paused")
        worker.start()
        assert pause.reached.wait(30)
        # The worker has read "queued" and is about to write "running"; the user cancels now.
        assert token_client(pg_app).post(f"/api/v1/runs/{run_id}/cancel").status_code == 200
        pause.release.set()
        claimed = worker.outcome()
    assert run_row(pg_app, run_id).status == "cancelled"
    assert claimed is False  # the worker does not train it


def test_cancelling_a_run_a_worker_just_claimed_asks_the_worker_to_stop(pg_app):
    from webapp.worker.jobs import claim_run

    run_id = insert_run(pg_app, "queued")
    client = token_client(pg_app)
    with PauseAt(pg_app, r"^\s*UPDATE training_run") as pause:
        cancel = Side(pg_app, lambda: client.post(f"/api/v1/runs/{run_id}/cancel").status_code, "paused")
        cancel.start()
        assert pause.reached.wait(30)
        # Cancel has read "queued"; a worker claims the run before cancel writes.
        claimer = Side(pg_app, lambda: claim_run(run_id) is not None, "claimer")
        claimer.start()
        wait_until(lambda: claimer.done.is_set() or waits_for_a_lock(pg_app), 30, "claim stuck")
        pause.release.set()
        assert cancel.outcome() == 200
        assert claimer.outcome() is True
    status, _error, cancel_requested = run_row(pg_app, run_id)
    # The worker holds it: it must stay "running" (not "cancelled" under a training worker) and see the flag.
    assert (status, cancel_requested) == ("running", True)


# ---------------------------------------------------------------- finishing vs failing a dead worker's run


def test_finishing_a_run_never_overwrites_a_worker_died_failure(pg_app, dead_worker):
    from webapp.queue.runstate import fail_dead_runs, mark_finished

    run_id = insert_run(pg_app, "running", worker=dead_worker)
    with PauseAt(pg_app, r"^\s*UPDATE training_run") as pause:
        finisher = Side(pg_app, lambda: mark_finished(run_id, "succeeded", None), "paused")
        finisher.start()
        assert pause.reached.wait(30)
        recovery = Side(pg_app, lambda: fail_dead_runs(60), "recovery")
        recovery.start()
        wait_until(lambda: recovery.done.is_set() or waits_for_a_lock(pg_app), 30, "recovery stuck")
        pause.release.set()
        finished = finisher.outcome()
        failed = recovery.outcome()
    status, error, _ = run_row(pg_app, run_id)
    if failed:  # recovery got there first: the late finish is refused and says so
        assert (status, finished) == ("failed", False)
        assert "worker stopped" in error
    else:
        assert (status, finished) == ("succeeded", True)


def test_recovery_never_overwrites_a_run_that_just_finished(pg_app, dead_worker):
    from webapp.queue.runstate import fail_dead_runs, mark_finished

    run_id = insert_run(pg_app, "running", worker=dead_worker)
    with PauseAt(pg_app, r"^\s*UPDATE training_run") as pause:
        recovery = Side(pg_app, lambda: fail_dead_runs(60), "paused")
        recovery.start()
        assert pause.reached.wait(30)
        # Recovery has judged the run dead; its worker's last words arrive before recovery writes.
        finisher = Side(pg_app, lambda: mark_finished(run_id, "succeeded", None), "finisher")
        finisher.start()
        wait_until(lambda: finisher.done.is_set() or waits_for_a_lock(pg_app), 30, "finish stuck")
        finished_first = finisher.done.is_set()
        pause.release.set()
        failed = recovery.outcome()
        finished = finisher.outcome()
    status, error, _ = run_row(pg_app, run_id)
    if finished_first:  # the run is closed: recovery must leave it so
        assert (status, error, finished, failed) == ("succeeded", None, True, 0)
    else:  # the finish waited for recovery's row lock, and is then refused
        assert (status, finished, failed) == ("failed", False, 1)


# ---------------------------------------------------------------- emptying the trash vs restoring


def photo_state(app, photo_id: int, sha: str) -> tuple[bool, bool]:
    """(the row exists outside the trash, its original exists on disk)."""
    with app.app_context():
        from webapp.db import db
        from webapp.db.models import Photo
        from webapp.photostore import storage
        from webapp.services import store_settings

        photo = db.session.get(Photo, photo_id)
        live = photo is not None and photo.deleted_at is None
        on_disk = storage.original_path(store_settings(), sha, "JPEG").exists()
        db.session.remove()
        return live, on_disk


def test_a_photo_restored_while_the_trash_is_emptied_is_kept_or_gone_whole(pg_app):
    client = token_client(pg_app)
    upload = {"files": [(io.BytesIO(class_photo(0, 1)), "a.jpg")]}
    stored = client.post("/api/v1/photos", data=upload).get_json()["results"][0]["photo"]
    photo_id, sha = stored["id"], stored["sha256"]
    assert client.delete(f"/api/v1/photos/{photo_id}").status_code == 200
    with PauseAt(pg_app, r"FROM photo\b.*deleted_at IS NOT NULL", after=True) as pause:
        emptier = Side(pg_app, lambda: client.post("/api/v1/trash/empty").get_json(), "paused")
        emptier.start()
        assert pause.reached.wait(30)
        # The trash's contents are read; the user restores the photo before anything is deleted.
        restorer = Side(pg_app, lambda: client.post(f"/api/v1/photos/{photo_id}/restore").status_code, "r")
        restorer.start()
        wait_until(lambda: restorer.done.is_set() or waits_for_a_lock(pg_app), 30, "restore stuck")
        pause.release.set()
        emptied = emptier.outcome()
        restored = restorer.outcome()
    live, on_disk = photo_state(pg_app, photo_id, sha)
    if restored == 200:  # restore won: the photo and its files are all there
        assert (live, on_disk, emptied["removed"]) == (True, True, 0)
    else:  # the trash was emptied first: restore says the photo is gone, and it is, files and all
        assert (restored, live, on_disk, emptied["removed"]) == (404, False, False, 1)


def test_a_trashed_photo_uploaded_again_while_the_trash_is_emptied_is_kept_or_stored_anew(pg_app):
    client = token_client(pg_app)
    upload = {"files": [(io.BytesIO(class_photo(0, 2)), "a.jpg")]}
    stored = client.post("/api/v1/photos", data=upload).get_json()["results"][0]["photo"]
    photo_id, sha = stored["id"], stored["sha256"]
    assert client.delete(f"/api/v1/photos/{photo_id}").status_code == 200

    def send_again():
        response = client.post(
            "/api/v1/photos", data={"files": [(io.BytesIO(class_photo(0, 2)), "again.jpg")]}
        )
        return response.status_code, response.get_json()["results"][0]

    with PauseAt(pg_app, r"FROM photo\b.*deleted_at IS NOT NULL", after=True) as pause:
        emptier = Side(pg_app, lambda: client.post("/api/v1/trash/empty").get_json(), "paused")
        emptier.start()
        assert pause.reached.wait(30)
        sender = Side(pg_app, send_again, "s")
        sender.start()
        wait_until(lambda: sender.done.is_set() or waits_for_a_lock(pg_app), 30, "the upload got stuck")
        pause.release.set()
        emptied = emptier.outcome()
        status, result = sender.outcome()
    assert status in (200, 503)  # never a 500
    live, on_disk = photo_state(pg_app, photo_id, sha)
    if result["status"] == "duplicate":  # the upload won: the photo is back, files and all
        assert (live, on_disk, emptied["removed"]) == (True, True, 0)
    else:  # emptied first: the upload says try again, and again stores it anew
        assert result["retryable"] and (live, on_disk, emptied["removed"]) == (False, False, 1)
        _status, again = send_again()
        assert again["status"] == "stored"


# ---------------------------------------------------------------- near-duplicates uploaded at once


def test_near_duplicates_uploaded_at_once_share_a_group(pg_app):
    from tests.scenes import scene_jpeg

    def upload(data: bytes, name: str):
        client = token_client(pg_app)
        form = {"files": [(io.BytesIO(data), name)]}
        return lambda: client.post("/api/v1/photos", data=form, content_type="multipart/form-data").get_json()

    with PauseAt(pg_app, r"SELECT photo\.id, photo\.group_id, photo\.fingerprint", after=True) as pause:
        first = Side(pg_app, upload(scene_jpeg(1), "scene.jpg"), "paused")
        first.start()
        assert pause.reached.wait(30)
        # The first upload has looked for near-duplicates and is not committed yet; a burst shot arrives.
        second = Side(pg_app, upload(scene_jpeg(1, "burst"), "burst.jpg"), "second")
        second.start()
        wait_until(lambda: second.done.is_set() or waits_for_a_lock(pg_app), 30, "second upload stuck")
        pause.release.set()
        scene, shot = (side.outcome()["results"][0] for side in (first, second))
    assert (scene["status"], shot["status"]) == ("stored", "stored")
    assert shot["near_duplicate_of"] == scene["photo"]["id"]
    groups = {
        token_client(pg_app).get(f"/api/v1/photos/{r['photo']['id']}").get_json()["group"]
        for r in (scene, shot)
    }
    assert groups == {scene["photo"]["id"]}
