"""Live progress of a training run, written to its row in short transactions, with a heartbeat."""

import os
import socket
import time
from datetime import UTC, timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from .extensions import db
from .models import TrainingRun, WorkerBeat, utcnow

WRITE_EVERY = 0.5  # seconds between progress writes; the page polls about once a second
CHECK_CANCEL_EVERY = 0.5


class RunProgress:
    """What webapp.ml reports while training, mirrored into the TrainingRun row."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.state: dict = {
            "stage": "starting",
            "epoch": 0,
            "epochs": 0,
            "batch": 0,
            "batches": 0,
            "history": [],
            "features_done": 0,
            "features_total": 0,
            "eta_seconds": None,
        }
        self._last_write = 0.0
        self._last_cancel_check = 0.0
        self._cancel = False
        self._train_started: float | None = None

    def where(self) -> str:
        """Where the run is, in words ("epoch 3", "feature computation")."""
        if self.state["stage"] == "training" and self.state["epoch"]:
            return f"epoch {self.state['epoch']}"
        return {"features": "feature computation", "starting": "start-up"}.get(
            self.state["stage"], self.state["stage"]
        )

    def stage(self, name: str) -> None:
        """A new stage begins (features, training, evaluating, saving)."""
        self.state["stage"] = name
        self._write(force=True)

    def features(self, done: int, total: int) -> None:
        """Feature computation progress."""
        self.state.update(stage="features", features_done=done, features_total=total)
        self._write(force=done == total)

    def batch(self, epoch: int, epochs: int, batch: int, batches: int) -> None:
        """A training batch finished (epoch and batch count from 1)."""
        if self._train_started is None:
            self._train_started = time.monotonic()
        self.state.update(stage="training", epoch=epoch, epochs=epochs, batch=batch, batches=batches)
        done = (epoch - 1) * batches + batch
        elapsed = time.monotonic() - self._train_started
        self.state["eta_seconds"] = round(elapsed / done * (epochs * batches - done), 1) if done else None
        self._write()

    def epoch(self, epoch: int, logs: dict) -> None:
        """An epoch finished with these losses and accuracies."""
        entry = {"epoch": epoch, **{k: round(float(v), 5) for k, v in logs.items()}}
        self.state["history"] = [*self.state["history"], entry]
        self._write(force=True)

    def keep_alive(self) -> bool:
        """Refresh the heartbeat during long steps without batches (predicting); never asks to cancel."""
        self._write()
        return False

    def should_cancel(self) -> bool:
        """Whether the user asked to cancel (checked at most twice a second)."""
        now = time.monotonic()
        if not self._cancel and now - self._last_cancel_check >= CHECK_CANCEL_EVERY:
            self._last_cancel_check = now
            self._cancel = bool(
                db.session.scalar(select(TrainingRun.cancel_requested).where(TrainingRun.id == self.run_id))
            )
            db.session.commit()
        return self._cancel

    def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_write < WRITE_EVERY:
            return
        self._last_write = now
        run = db.session.get(TrainingRun, self.run_id)
        run.progress = dict(self.state)
        run.heartbeat_at = utcnow()
        db.session.commit()


def mark_finished(run_id: int, status: str, error: str | None, attempts: int = 5) -> None:
    """Close a run: final status, error text, finish time (called from a finally block; retried when busy)."""
    for attempt in range(attempts):
        try:
            return _finish(run_id, status, error)
        except OperationalError:
            db.session.rollback()
            if attempt == attempts - 1:
                raise
            time.sleep(1 + attempt)


def _finish(run_id: int, status: str, error: str | None) -> None:
    run = db.session.get(TrainingRun, run_id)
    if run is None:
        return
    run.status, run.error, run.finished_at = status, error, utcnow()
    run.progress = {**(run.progress or {}), "stage": status, "eta_seconds": None}
    db.session.commit()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    # A killed worker whose parent died too may linger as a zombie (in containers nobody reaps it).
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def dead_runs(stale_seconds: int, at_worker_start: bool = False) -> list[TrainingRun]:
    """Running runs whose worker is gone: a dead pid on this host, or no heartbeat for stale_seconds."""
    host = socket.gethostname()
    stale_before = utcnow() - timedelta(seconds=stale_seconds)
    beats = dict(db.session.execute(select(WorkerBeat.name, WorkerBeat.beat_at)).all())
    running = db.session.scalars(select(TrainingRun).where(TrainingRun.status == "running"))
    own_pid = os.getpid() if at_worker_start else None
    return [run for run in running if _gone(run, host, beats, stale_before, own_pid)]


def _gone(run: TrainingRun, host: str, beats: dict, stale_before, own_pid: int | None) -> bool:
    worker_host, _, pid = (run.worker or "").rpartition(":")
    if worker_host == host and pid.isdigit() and (not _pid_alive(int(pid)) or int(pid) == own_pid):
        return True
    # Long silent stages (saving, predicting) skip progress writes, but the worker's own beat goes on.
    return _stale(run.heartbeat_at, stale_before) and _stale(beats.get(run.worker), stale_before)


def _stale(value, before) -> bool:
    return value is None or (value if value.tzinfo else value.replace(tzinfo=UTC)) < before


def fail_dead_runs(stale_seconds: int, at_worker_start: bool = False) -> int:
    """Mark dead runs failed, saying where they stopped, so Train works again.

    At a worker's start a run recorded under this very pid was its dead predecessor's (pids are reused).
    """
    count = 0
    for run in dead_runs(stale_seconds, at_worker_start):
        epoch = (run.progress or {}).get("epoch") or 0
        where = f"epoch {epoch}" if epoch else (run.progress or {}).get("stage", "start-up")
        run.status, run.finished_at = "failed", utcnow()
        run.error = f"The worker stopped during {where}; press Train to start again"
        run.progress = {**(run.progress or {}), "stage": "failed", "eta_seconds": None}
        count += 1
    db.session.commit()
    return count
