"""GET /healthz: is the database reachable, the queue usable, a worker alive."""

from flask import Blueprint, jsonify

from webapp.services.health import health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Status of the database, the queue and the workers (503 when the database does not answer)."""
    body = health()
    return jsonify(body), 200 if body["status"] == "ok" else 503
