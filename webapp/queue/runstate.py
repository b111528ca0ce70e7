"""The state of training runs that both processes change: claiming, cancelling, finishing, failing runs whose
worker died, and removing a run's model files.

Every change of status is a conditional UPDATE (... WHERE status = ...) whose row count says whether it
happened: on PostgreSQL two transactions may read the same row and both write it (SQLite's BEGIN IMMEDIATE
hides that), and the later write must not undo the earlier one. The web side fails dead runs before Train
and Cancel; a worker does it when it starts and with each heartbeat.
"""

import logging
import os
import shutil
import socket
import time
import uuid
from datetime import UTC, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from webapp.db import db
from webapp.db.models import ACTIVE_STATUSES, TrainingRun, WorkerBeat, utcnow

log = logging.getLogger(__name__)
REMOVED_PREFIX = ".removed-"  # models/.removed-<id>-<hex>: a folder on its way out (see move_aside)


class RunClosed(Exception):
    """The run is not running any more (another process failed it as dead): its worker must stop."""


def update_if(run_id: int, statuses, *conditions, **values) -> bool:
    """UPDATE the run WHERE its status is one of statuses (and conditions); whether a row changed.

    The caller commits. Objects already in the session are not refreshed until then.
    """
    result = db.session.execute(
        update(TrainingRun)
        .where(TrainingRun.id == run_id, TrainingRun.status.in_(statuses), *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _progress(run_id: int) -> dict | None:
    row = db.session.execute(select(TrainingRun.progress).where(TrainingRun.id == run_id)).first()
    return None if row is None else dict(row.progress or {})


def update_running(run_id: int, **values) -> None:
    """Write to a running run and commit; RunClosed when it is not running any more."""
    done = update_if(run_id, ("running",), **values)
    db.session.commit()
    if not done:
        raise RunClosed(f"Run {run_id} is no longer running: another process closed it")


def claim(run_id: int, worker: str) -> bool:
    """queued -> running for this worker; False when the run is gone or no longer queued (cancelled)."""
    progress, now = _progress(run_id), utcnow()
    claimed = progress is not None and update_if(
        run_id,
        ("queued",),
        status="running",
        started_at=now,
        heartbeat_at=now,
        worker=worker,
        progress={**progress, "stage": "starting"},
    )
    db.session.commit()
    return claimed


def cancel_queued(run_id: int) -> bool:
    """queued -> cancelled; False when the run is not queued (a worker took it, or it has ended)."""
    progress = _progress(run_id) or {}
    done = update_if(
        run_id,
        ("queued",),
        status="cancelled",
        finished_at=utcnow(),
        error="Cancelled before it started",
        progress={**progress, "stage": "cancelled"},
    )
    db.session.commit()
    return done


def request_cancel(run_id: int) -> bool:
    """Ask a running run's worker to stop at its next batch; False when the run is not running."""
    done = update_if(run_id, ("running",), cancel_requested=True)
    db.session.commit()
    return done


def mark_finished(
    run_id: int, status: str, error: str | None, attempts: int = 5, expected=ACTIVE_STATUSES
) -> bool:
    """Close a run (final status, error text, finish time) unless someone closed it already; whether it was.

    Called from a finally block, so it retries while the database is busy.
    """
    for attempt in range(attempts):
        try:
            return _finish(run_id, status, error, expected)
        except OperationalError:
            db.session.rollback()
            if attempt == attempts - 1:
                raise
            time.sleep(1 + attempt)
    return False


def _finish(run_id: int, status: str, error: str | None, expected) -> bool:
    progress = _progress(run_id)
    done = progress is not None and update_if(
        run_id,
        expected,
        status=status,
        error=error,
        finished_at=utcnow(),
        progress={**progress, "stage": status, "eta_seconds": None},
    )
    db.session.commit()
    return done


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
    """Mark dead runs failed, saying where they stopped, so Train works again; remove their partial files.

    At a worker's start a run recorded under this very pid was its dead predecessor's (pids are reused).
    A run that finished, or whose worker beat again, since it was judged dead is left alone.
    """
    failed = [run.id for run in dead_runs(stale_seconds, at_worker_start) if _fail_dead(run)]
    db.session.commit()
    for run_id in failed:
        discard_run_files(run_id)
    return len(failed)


def where_stopped(progress: dict) -> str:
    """Where a run was, in words ("epoch 3", "feature computation", "saving"), from its last progress."""
    stage = progress.get("stage") or "starting"
    if stage == "training" and progress.get("epoch"):
        return f"epoch {progress['epoch']}"
    return {"features": "feature computation", "starting": "start-up"}.get(stage, stage)


def _fail_dead(run: TrainingRun) -> bool:
    progress = dict(run.progress or {})
    where = where_stopped(progress)
    beat = run.heartbeat_at
    unchanged = TrainingRun.heartbeat_at.is_(None) if beat is None else TrainingRun.heartbeat_at == beat
    return update_if(
        run.id,
        ("running",),
        unchanged,
        status="failed",
        finished_at=utcnow(),
        error=f"The worker stopped during {where}; press Train to start again",
        progress={**progress, "stage": "failed", "eta_seconds": None},
    )


# ---------------------------------------------------------------- a run's model files


def models_root() -> Path:
    """instance/models: one folder per run that has model files."""
    return Path(current_app.config["INSTANCE_PATH"]) / "models"


def move_aside(run_id: int) -> Path | None:
    """Rename models/<run_id> out of the way in one atomic step; None when there is no such folder.

    OSError (the folder stays whole where it was) when it cannot be moved.
    """
    folder = models_root() / str(run_id)
    aside = models_root() / f"{REMOVED_PREFIX}{run_id}-{uuid.uuid4().hex[:8]}"
    try:
        os.rename(folder, aside)
    except FileNotFoundError:
        return None
    return aside


def put_back(aside: Path, run_id: int) -> None:
    """Undo move_aside."""
    os.rename(aside, models_root() / str(run_id))


def delete_tree(path: Path) -> bool:
    """Delete a moved-aside folder; failures are logged and the rest retried by sweep_removed()."""
    errors: list[str] = []
    shutil.rmtree(path, onerror=lambda _fn, where, info: errors.append(f"{where}: {info[1]}"))
    if errors:
        log.error("could not delete %d model file(s), retried at the next prune: %s", len(errors), errors[:3])
    return not errors


def sweep_removed() -> int:
    """Retry deleting folders that a failed delete left behind; how many are gone now."""
    root = models_root()
    leftovers = sorted(root.glob(f"{REMOVED_PREFIX}*")) if root.is_dir() else []
    return sum(delete_tree(path) for path in leftovers)


def discard_run_files(run_id: int) -> bool:
    """Remove the model files of a run that failed or was cancelled, and its artifact list; whether done.

    A run that succeeded keeps them. Failures are logged, never raised: the caller is closing a run, and
    its status matters more than its files (the check command reports leftovers).
    """
    try:
        return _discard(run_id)
    except Exception:
        db.session.rollback()
        log.exception("could not remove the model files of run %s", run_id)
        return False


def _discard(run_id: int) -> bool:
    aside = move_aside(run_id)
    cleared = update_if(run_id, ("failed", "cancelled"), artifacts={})
    db.session.commit()
    if aside is None:
        return cleared
    if not cleared:
        put_back(aside, run_id)
        return False
    return delete_tree(aside)
