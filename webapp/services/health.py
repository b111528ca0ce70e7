"""Health: is the database reachable, the queue usable, a worker alive, and is there disk left."""

import shutil

from flask import current_app
from sqlalchemy import text

from webapp.db import db
from webapp.queue.heartbeat import queue_status, worker_status
from webapp.services import instance_path


def database_status() -> str:
    """ "ok" when the database answers a query."""
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # the point is to report it, whatever it is
        db.session.rollback()
        return f"error: {exc.__class__.__name__}"


def disk_status() -> dict:
    """Free space on the disk that holds the instance folder, against MIN_FREE_BYTES."""
    minimum = current_app.config["MIN_FREE_BYTES"]
    try:
        free = shutil.disk_usage(instance_path()).free
    except OSError as exc:  # report it, do not fail the health check
        return {"status": f"error: {exc.__class__.__name__}", "free_bytes": None, "min_free_bytes": minimum}
    low = free < minimum
    return {"status": "low" if low else "ok", "free_bytes": free, "min_free_bytes": minimum}


def health() -> dict:
    """The status of each part: "ok"; "degraded" while it serves but the disk is nearly full; "error"
    when the database does not answer."""
    database, disk = database_status(), disk_status()
    status = "error" if database != "ok" else ("degraded" if disk["status"] != "ok" else "ok")
    body = {"status": status, "database": database, "queue": queue_status(), "worker": worker_status()}
    body["disk"] = disk
    if disk["status"] == "low":
        body["message"] = (
            f"The disk holding the app's data has {_mb(disk['free_bytes'])} free, under the "
            f"{_mb(disk['min_free_bytes'])} minimum: uploads and training may soon fail. Free some space "
            "(or delete old runs' model files)."
        )
    return body


def _mb(size: int) -> str:
    return f"{size / 1024**2:,.0f} MB"
