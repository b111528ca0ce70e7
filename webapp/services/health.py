"""Health: is the database reachable, the queue usable, a worker alive."""

from sqlalchemy import text

from webapp.db import db
from webapp.queue.heartbeat import queue_status, worker_status


def database_status() -> str:
    """ "ok" when the database answers a query."""
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # the point is to report it, whatever it is
        db.session.rollback()
        return f"error: {exc.__class__.__name__}"


def health() -> dict:
    """The status of each part; "status" is "ok" when the database answers."""
    database = database_status()
    return {
        "status": "ok" if database == "ok" else "error",
        "database": database,
        "queue": queue_status(),
        "worker": worker_status(),
    }
