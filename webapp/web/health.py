"""GET /healthz: is the database reachable, the queue usable, a worker alive."""

from flask import Blueprint, jsonify

from webapp.services.health import health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Status of the database, the queue, the workers and free disk (503 when the database does not answer;
    "degraded", still 200, when the disk is nearly full)."""
    body = health()
    return jsonify(body), 503 if body["status"] == "error" else 200
