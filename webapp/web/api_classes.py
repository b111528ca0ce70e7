"""JSON API: classes and the dataset summary."""

from flask import Blueprint, jsonify

from webapp.services import class_deletes
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
    """Delete a class (?force=1 when it labels photos: they become unlabeled); it can be restored."""
    return jsonify(class_deletes.delete_class(class_id, force=query_flag("force")))


@bp.get("/classes/deleted")
def deleted_classes():
    """The deleted classes that can still be restored, newest first."""
    return jsonify([class_deletes.deleted_to_dict(row) for row in class_deletes.list_deleted()])


@bp.post("/classes/deleted/<id:deleted_id>/restore")
@admin_only("restore a class")
def restore_class(deleted_id: int):
    """Restore a deleted class: its name, colour, key and its photos' labels (those still unlabeled)."""
    done = class_deletes.restore_class(deleted_id)
    body = {"class": class_service.class_to_dict(done["class"]), "relabeled": done["relabeled"]}
    return jsonify({**body, "skipped": done["skipped"]}), 201


@bp.get("/dataset")
def dataset():
    """Counts per class and split, unlabeled and trash, and an imbalance warning."""
    return jsonify(dataset_summary())
