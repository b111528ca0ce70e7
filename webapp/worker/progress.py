"""Live progress of a training run, written to its row in short transactions, with a heartbeat.

Each write is conditional on the run still running (webapp.queue.runstate.update_running).
"""

import time

from sqlalchemy import select

from webapp.db import db
from webapp.db.models import TrainingRun, utcnow
from webapp.queue.runstate import RunClosed, update_running, where_stopped
from webapp.worker import stopping

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
        return where_stopped(self.state)

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

    def failed_because(self, kind: str) -> None:
        """Note why the run fails ("weights", "disk_full"): the run page offers the fix for that cause."""
        self.state["failure"] = kind
        try:
            self._write(force=True)
        except RunClosed:  # closed elsewhere meanwhile: that verdict stands, the note does not matter
            db.session.rollback()

    def keep_alive(self) -> bool:
        """Refresh the heartbeat during long steps without batches (predicting); never asks to cancel."""
        self._write()
        return False

    def should_cancel(self) -> bool:
        """Whether the user asked to cancel (checked at most twice a second) or the worker is stopping."""
        if stopping.requested():
            return True
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
        # Only while the run is still running: RunClosed stops a worker whose run was failed as dead.
        update_running(self.run_id, progress=dict(self.state), heartbeat_at=utcnow())
