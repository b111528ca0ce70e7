"""Live progress of a run (webapp.worker.progress); recovery of runs whose worker died (queue.runstate).

What the worker writes is read back through the API, in another session, as the run page sees it.
Nothing here imports TensorFlow.
"""

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from webapp.db import db
from webapp.db.models import TrainingRun
from webapp.queue.runstate import dead_runs, mark_finished
from webapp.worker import jobs, progress
from webapp.worker.progress import RunProgress

STALE = 60  # seconds, the default WORKER_STALE_SECONDS
HOST = socket.gethostname()


def insert_running(app, worker: str | None, heartbeat_age: float | None = 0, **fields) -> int:
    """A running run claimed by worker ("host:pid"), its heartbeat heartbeat_age seconds old; its id."""
    now = datetime.now(UTC)
    with app.app_context():
        run = TrainingRun(
            status=fields.pop("status", "running"),
            params={"epochs": 5, "batch_size": 32, "learning_rate": 1e-4, "trainable_layers": 4},
            dataset={"labels": ["beer", "wings"], "items": []},
            progress=fields.pop("progress", {"stage": "starting"}),
            worker=worker,
            heartbeat_at=None if heartbeat_age is None else now - timedelta(seconds=heartbeat_age),
            started_at=now - timedelta(minutes=5),
            **fields,
        )
        db.session.add(run)
        db.session.commit()
        return run.id


def api_run(client, run_id: int) -> dict:
    response = client.get(f"/api/v1/runs/{run_id}")
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def clock(monkeypatch):
    """A hand-driven time.monotonic for webapp.progress (starts far from zero)."""
    fake = SimpleNamespace(now=10_000.0)
    monkeypatch.setattr(progress, "time", SimpleNamespace(monotonic=lambda: fake.now))
    return fake


# ---------------------------------------------------------------- RunProgress


def test_stage_and_batches_are_written_with_a_heartbeat(app, client, clock):
    run_id = insert_running(app, f"{HOST}:{os.getpid()}", heartbeat_age=600)
    with app.app_context():
        prog = RunProgress(run_id)
        prog.stage("features")
        prog.features(3, 10)
        clock.now += 1
        prog.stage("training")
        clock.now += 1
        prog.batch(epoch=2, epochs=5, batch=3, batches=4)
    run = api_run(client, run_id)
    assert run["progress"]["stage"] == "training"
    assert (run["progress"]["epoch"], run["progress"]["epochs"]) == (2, 5)
    assert (run["progress"]["batch"], run["progress"]["batches"]) == (3, 4)
    assert run["progress"]["features_done"] == 3 and run["progress"]["features_total"] == 10
    with app.app_context():
        beat = db.session.get(TrainingRun, run_id).heartbeat_at
    beat = beat if beat.tzinfo else beat.replace(tzinfo=UTC)
    assert datetime.now(UTC) - beat < timedelta(seconds=30)


def test_batch_writes_are_throttled_but_epochs_are_not(app, client, clock):
    run_id = insert_running(app, f"{HOST}:{os.getpid()}")
    with app.app_context():
        prog = RunProgress(run_id)
        prog.batch(1, 2, 1, 10)  # first write
        clock.now += 0.1
        prog.batch(1, 2, 2, 10)  # too soon: kept in memory only
        assert api_run(client, run_id)["progress"]["batch"] == 1
        clock.now += progress.WRITE_EVERY
        prog.batch(1, 2, 3, 10)
        assert api_run(client, run_id)["progress"]["batch"] == 3
        clock.now += 0.01
        prog.epoch(1, {"loss": 0.6931471805, "accuracy": 0.5, "val_loss": 0.7, "val_accuracy": 0.25})
    progress_now = api_run(client, run_id)["progress"]
    assert progress_now["history"] == [
        {"epoch": 1, "loss": 0.69315, "accuracy": 0.5, "val_loss": 0.7, "val_accuracy": 0.25}
    ]


def test_history_grows_one_entry_per_epoch(app, client, clock):
    run_id = insert_running(app, f"{HOST}:{os.getpid()}")
    with app.app_context():
        prog = RunProgress(run_id)
        for epoch in (1, 2, 3):
            prog.batch(epoch, 3, 4, 4)
            prog.epoch(epoch, {"loss": 1 / epoch, "accuracy": epoch / 4})
            clock.now += 0.01
    history = api_run(client, run_id)["progress"]["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert [h["accuracy"] for h in history] == [0.25, 0.5, 0.75]
    assert history[2]["loss"] == pytest.approx(0.33333)


def test_eta_counts_down_from_the_batches_left(app, clock):
    run_id = insert_running(app, f"{HOST}:{os.getpid()}")
    with app.app_context():
        prog = RunProgress(run_id)
        prog.batch(1, 2, 1, 5)  # training starts here
        clock.now += 4.0
        prog.batch(1, 2, 5, 5)  # 5 of 10 batches in 4 s: 4 s to go
        assert prog.state["eta_seconds"] == pytest.approx(4.0)


def test_where_names_the_place_for_error_messages(app):
    run_id = insert_running(app, f"{HOST}:{os.getpid()}")
    with app.app_context():
        prog = RunProgress(run_id)
        assert prog.where() == "start-up"
        prog.features(1, 4)
        assert prog.where() == "feature computation"
        prog.batch(3, 5, 1, 4)
        assert prog.where() == "epoch 3"
        prog.stage("saving")
        assert prog.where() == "saving"


def test_keep_alive_refreshes_the_heartbeat_and_never_cancels(app, client, clock):
    run_id = insert_running(app, f"{HOST}:{os.getppid()}", heartbeat_age=10 * STALE)
    with app.app_context():
        prog = RunProgress(run_id)
        prog.stage("predicting")
        assert client.post(f"/api/v1/runs/{run_id}/cancel").status_code == 200
        row = db.session.get(TrainingRun, run_id)
        row.heartbeat_at = datetime.now(UTC) - timedelta(seconds=10 * STALE)
        db.session.commit()
        assert dead_ids(app) == {run_id}  # stale now...
        clock.now += progress.WRITE_EVERY
        assert prog.keep_alive() is False  # ...a cancel request is for batches, not for predicting
        assert dead_ids(app) == set()  # ...and alive again
    assert api_run(client, run_id)["progress"]["stage"] == "predicting"


def test_should_cancel_reads_the_flag_the_api_sets(app, client, clock):
    run_id = insert_running(app, f"{HOST}:{os.getpid()}")
    with app.app_context():
        prog = RunProgress(run_id)
        assert prog.should_cancel() is False
        assert client.post(f"/api/v1/runs/{run_id}/cancel").status_code == 200
        # Checked at most every CHECK_CANCEL_EVERY seconds: not yet...
        clock.now += progress.CHECK_CANCEL_EVERY / 2
        assert prog.should_cancel() is False
        # ...then seen, and it stays seen.
        clock.now += progress.CHECK_CANCEL_EVERY
        assert prog.should_cancel() is True
        clock.now += 0.01
        assert prog.should_cancel() is True


def test_should_cancel_stays_false_without_a_request(app, clock):
    run_id = insert_running(app, f"{HOST}:{os.getpid()}")
    with app.app_context():
        prog = RunProgress(run_id)
        for _ in range(3):
            clock.now += progress.CHECK_CANCEL_EVERY
            assert prog.should_cancel() is False


def test_mark_finished_closes_the_run(app, client, clock):
    run_id = insert_running(app, f"{HOST}:{os.getpid()}")
    with app.app_context():
        prog = RunProgress(run_id)
        prog.batch(2, 5, 1, 4)
        prog.epoch(2, {"loss": 0.5})
        mark_finished(run_id, "failed", "Training failed during epoch 2: boom")
        mark_finished(12345, "failed", "no such run: ignored")
    run = api_run(client, run_id)
    assert run["status"] == "failed"
    assert run["error"] == "Training failed during epoch 2: boom"
    assert run["finished_at"] is not None
    assert run["progress"]["stage"] == "failed"
    assert run["progress"]["eta_seconds"] is None
    assert run["progress"]["history"] == [{"epoch": 2, "loss": 0.5}]  # kept for the page


# ---------------------------------------------------------------- dead workers


def dead_ids(app) -> set[int]:
    with app.app_context():
        return {run.id for run in dead_runs(STALE)}


def test_a_dead_pid_on_this_host_is_dead_at_once(app, dead_pid):
    run_id = insert_running(app, f"{HOST}:{dead_pid}", heartbeat_age=0)
    assert dead_ids(app) == {run_id}


def test_an_impossible_pid_on_this_host_is_dead(app):
    run_id = insert_running(app, f"{HOST}:999999999", heartbeat_age=0)
    assert dead_ids(app) == {run_id}


def test_a_live_pid_on_this_host_with_a_fresh_heartbeat_is_alive(app):
    # Another live process (our parent), beating recently: a worker busy training.
    run_id = insert_running(app, f"{HOST}:{os.getppid()}", heartbeat_age=1)
    assert run_id not in dead_ids(app)


def test_a_live_pid_on_this_host_with_a_stale_heartbeat_is_dead(app):
    # The pid may have been reused by another process: a heartbeat this old is the backstop.
    run_id = insert_running(app, f"{HOST}:{os.getppid()}", heartbeat_age=STALE + 30)
    assert dead_ids(app) == {run_id}


def test_a_zombie_worker_pid_on_this_host_is_dead(app):
    # A killed worker nobody reaped still has a pid (state Z): os.kill(pid, 0) alone would call it alive.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while _proc_state(child.pid) != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _proc_state(child.pid) == "Z"
        run_id = insert_running(app, f"{HOST}:{child.pid}", heartbeat_age=0)
        assert dead_ids(app) == {run_id}
    finally:
        child.wait()


def _proc_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def test_another_host_with_an_old_heartbeat_is_dead(app):
    old = insert_running(app, "gpu-box-7:1234", heartbeat_age=STALE + 30)
    fresh = insert_running(app, "gpu-box-8:1234", heartbeat_age=1)
    never = insert_running(app, "gpu-box-9:1234", heartbeat_age=None)
    assert dead_ids(app) == {old, never}
    assert fresh not in dead_ids(app)


def test_only_running_runs_can_be_dead(app, dead_pid):
    for status in ("queued", "succeeded", "failed", "cancelled"):
        insert_running(app, f"{HOST}:{dead_pid}", heartbeat_age=10 * STALE, status=status)
    assert dead_ids(app) == set()


def test_recover_dead_runs_fails_them_naming_the_epoch(app, client, dead_pid):
    dead = insert_running(
        app,
        f"{HOST}:{dead_pid}",
        progress={"stage": "training", "epoch": 3, "epochs": 5, "batch": 2, "batches": 4, "history": []},
    )
    stale = insert_running(app, "gpu-box-7:1", heartbeat_age=STALE * 5, progress={"stage": "features"})
    alive = insert_running(
        app, f"{HOST}:{os.getppid()}", heartbeat_age=1, progress={"stage": "training", "epoch": 1}
    )
    with app.app_context():
        assert jobs.recover_dead_runs() == 2
    dead_run = api_run(client, dead)
    assert dead_run["status"] == "failed"
    assert "epoch 3" in dead_run["error"]
    assert dead_run["finished_at"] is not None
    stale_run = api_run(client, stale)
    assert stale_run["status"] == "failed" and "during feature computation" in stale_run["error"]
    assert api_run(client, alive)["status"] == "running"
    # A failed run no longer blocks Train, and a second recovery finds nothing.
    with app.app_context():
        assert jobs.recover_dead_runs() == 0


def test_recover_leaves_the_active_model_alone(app, client, dead_pid):
    with app.app_context():
        good = TrainingRun(
            status="succeeded",
            params={"epochs": 5},
            dataset={"labels": ["beer", "wings"], "items": []},
            artifacts={"model": "model.keras"},
            pinned=True,
        )
        db.session.add(good)
        db.session.commit()
        good_id = good.id
    insert_running(app, f"{HOST}:{dead_pid}")
    with app.app_context():
        jobs.recover_dead_runs()
    run = api_run(client, good_id)
    assert run["status"] == "succeeded" and run["active"] is True and run["pinned"] is True
