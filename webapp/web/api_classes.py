"""JSON API: classes and the dataset summary."""

from flask import Blueprint, jsonify

from webapp.services import classes as class_service
from webapp.services.dataset import dataset_summary
from webapp.web.auth import admin_only
from webapp.web.requests import field, json_body, query_flag

bp = Blueprint("api_classes", __name__, url_prefix="/api/v1")
CLASS_FIELDS = {
    "name": field("string"),
    "color": field("string", "null"),
    "key": field("integer", "string", "null"),
}


@bp.get("/classes")
def list_classes():
    """All classes with their labeled-photo counts."""
    counts = class_service.class_counts()
    return jsonify([class_service.class_to_dict(c, counts) for c in class_service.list_classes()])


@bp.post("/classes")
def create_class():
    """Add a class."""
    body = json_body(CLASS_FIELDS)
    cls = class_service.create_class(body.get("name"), body.get("color"), body.get("key"))
    return jsonify(class_service.class_to_dict(cls)), 201


@bp.patch("/classes/<id:class_id>")
def update_class(class_id: int):
    """Rename, recolour or re-key a class."""
    cls = class_service.update_class(class_id, json_body(CLASS_FIELDS))
    return jsonify(class_service.class_to_dict(cls))


@bp.delete("/classes/<id:class_id>")
@admin_only("delete a class")
def delete_class(class_id: int):
    """Delete a class (with ?force=1 when it still labels photos; they become unlabeled)."""
    unlabeled = class_service.delete_class(class_id, force=query_flag("force"))
    return jsonify({"deleted": class_id, "unlabeled": unlabeled})


@bp.get("/dataset")
def dataset():
    """Counts per class and split, unlabeled and trash, and an imbalance warning."""
    return jsonify(dataset_summary())
