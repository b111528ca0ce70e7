"""JSON API: instant suggestions (where they stand, accept the sure ones in bulk, undo that)."""

from flask import Blueprint, jsonify

from webapp.services import suggestions as service
from webapp.web.requests import field, json_body

bp = Blueprint("api_suggestions", __name__, url_prefix="/api/v1")
ACCEPT_FIELDS = {"min_confidence": field("number")}
UNDO_FIELDS = {"items": field("array", items="object", max_items=service.MAX_ACCEPT)}


@bp.get("/suggestions")
def summary():
    """The suggestion model's state, how many unlabeled photos each threshold would label, the accept rate."""
    return jsonify(service.summary())


@bp.post("/suggestions/accept")
def accept():
    """Label every unlabeled photo whose suggestion is at least min_confidence sure (labeled ones never)."""
    body = json_body(ACCEPT_FIELDS, required=False)
    minimum = service.check_confidence(body.get("min_confidence", service.DEFAULT_MIN_CONFIDENCE))
    done = service.accept(minimum)
    return jsonify({"accepted": len(done), "items": done})


@bp.post("/suggestions/undo")
def undo():
    """Take back a bulk accept: unlabel the given photos that still carry the label it gave them."""
    return jsonify({"undone": service.undo(json_body(UNDO_FIELDS).get("items"))})
