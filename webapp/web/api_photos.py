"""JSON API: upload, list, label, move, trash and restore photos."""

from flask import Blueprint, jsonify, request

from webapp.services import photos as photo_service
from webapp.services.errors import InvalidInput
from webapp.services.ingest import ingest_uploads
from webapp.services.photo_queries import (
    PhotoFilter,
    ids_limit,
    list_ids,
    list_page,
    page_args,
    predictions_for,
)
from webapp.web.present import ingest_json, photo_json, photo_page_json
from webapp.web.requests import check_text, field, json_body

bp = Blueprint("api_photos", __name__, url_prefix="/api/v1")
PHOTO_FIELDS = {"label": field("string", "null"), "split": field("string")}
BULK_FIELDS = {
    "ids": field("array", items="integer", max_items=10_000),
    "label": field("string", "null"),
    "split": field("string"),
    "action": field("string"),
}


@bp.post("/photos")
def upload():
    """Store one or more files from the multipart field "files" (a .zip is expanded)."""
    files = request.files.getlist("files")
    if not files:
        raise InvalidInput('Send the photos as multipart form data in the field "files"')
    label = check_text("label", request.form.get("label") or "") or None
    results = ingest_uploads(files, label)
    body = {"results": [ingest_json(r) for r in results]}
    if len(files) == 1 and len(results) == 1 and results[0].too_large:
        return jsonify({"error": results[0].error, **body}), 413
    return jsonify(body)


@bp.get("/photos")
def list_photos():
    """A page of photos matching label / split / unlabeled / trash filters."""
    page, per_page = page_args(request.args)
    return jsonify(photo_page_json(list_page(PhotoFilter.from_args(request.args), page, per_page)))


@bp.get("/photos/ids")
def photo_ids():
    """Ids matching the filters, in order, a page at a time (?after=<next>&limit=): {ids, total, next}."""
    flt, limit = PhotoFilter.from_args(request.args), ids_limit(request.args)
    return jsonify(list_ids(flt, request.args.get("after") or None, limit))


@bp.get("/photos/<id:photo_id>")
def get_photo(photo_id: int):
    """One photo."""
    return jsonify(_with_prediction(photo_service.get_photo(photo_id)))


@bp.patch("/photos/<id:photo_id>")
def update_photo(photo_id: int):
    """Set or clear the label, or move the photo to another split."""
    return jsonify(_with_prediction(photo_service.update_photo(photo_id, json_body(PHOTO_FIELDS))))


def _with_prediction(photo) -> dict:
    return photo_json(photo, predictions_for([photo.id]).get(photo.id))


@bp.delete("/photos/<id:photo_id>")
def delete_photo(photo_id: int):
    """Move a photo to the trash."""
    return jsonify(photo_json(photo_service.trash_photo(photo_id)))


@bp.post("/photos/<id:photo_id>/restore")
def restore_photo(photo_id: int):
    """Bring a photo back from the trash."""
    return jsonify(photo_json(photo_service.restore_photo(photo_id)))


@bp.post("/photos/bulk")
def bulk():
    """Label, move, delete or restore many photos at once."""
    body = json_body(BULK_FIELDS)
    return jsonify({"updated": photo_service.bulk_update(body.get("ids"), body)})


@bp.post("/trash/empty")
def empty_trash():
    """Delete every photo in the trash for good."""
    return jsonify({"removed": photo_service.empty_trash()})
