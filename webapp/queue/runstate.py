"""The state of training runs that both processes change: finishing a run, and failing runs whose worker died.

The web side fails dead runs before Train and Cancel; a worker does it when it starts.
"""

import os
import socket
import time
from datetime import UTC, timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from webapp.db import db
from webapp.db.models import TrainingRun, WorkerBeat, utcnow


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
