"""GET /healthz: is the database reachable, the queue usable, a worker alive."""

from flask import Blueprint, jsonify
from sqlalchemy import text

from .. import tasks
from ..extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Status of the database, the queue and the workers."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # the point is to report it, whatever it is
        database = f"error: {exc.__class__.__name__}"
    body = {
        "status": "ok" if database == "ok" else "error",
        "database": database,
        "queue": tasks.queue_status(),
        "worker": tasks.worker_status(),
    }
    return jsonify(body), 200 if database == "ok" else 503
