"""Worker liveness, read by both processes: each worker process beats a row; the web side reads them."""

import os
import socket
from datetime import timedelta

from sqlalchemy import delete, select

from webapp.db import db
from webapp.db.models import WorkerBeat, utcnow
from webapp.queue import huey

BEAT_SECONDS = 5
ALIVE_SECONDS = 20


def worker_name() -> str:
    """host:pid of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(name: str) -> None:
    """Record that the worker called name is alive."""
    db.session.execute(delete(WorkerBeat).where(WorkerBeat.beat_at < utcnow() - timedelta(hours=1)))
    row = db.session.get(WorkerBeat, name)
    if row is None:
        db.session.add(WorkerBeat(name=name))
    else:
        row.beat_at = utcnow()
    db.session.commit()


def live_workers() -> list[str]:
    """Names of workers that beat recently."""
    since = utcnow() - timedelta(seconds=ALIVE_SECONDS)
    rows = db.session.scalars(select(WorkerBeat.name).where(WorkerBeat.beat_at >= since))
    return list(rows)


def worker_status() -> str:
    """ "ok" when a worker beat recently, "missing" otherwise."""
    try:
        return "ok" if live_workers() else "missing"
    except Exception as exc:  # health must report, not fail
        return f"error: {exc.__class__.__name__}"


def queue_status() -> str:
    """ "ok" when the queue's storage answers."""
    try:
        huey().pending_count()
        return "ok"
    except Exception as exc:  # health must report, not fail
        return f"error: {exc.__class__.__name__}"
