"""JSON API: upload, list, label, move, trash and restore photos."""

from flask import Blueprint, jsonify, request

from webapp.db.setup import reading
from webapp.services import photos as photo_service
from webapp.services.errors import InvalidInput
from webapp.services.failures import BUSY, DISK_FULL, ERROR
from webapp.services.import_jobs import get_import
from webapp.services.photo_queries import (
    PhotoFilter,
    ids_limit,
    list_ids,
    list_page,
    page_args,
    predictions_for,
)
from webapp.services.suggestions import suggestions_for
from webapp.services.uploads import ingest_upload_batch, photos_of
from webapp.web.api_imports import import_json
from webapp.web.auth import admin_only
from webapp.web.errors import RETRY_AFTER_BUSY
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


FAILURE_STATUS = {BUSY: 503, DISK_FULL: 507, ERROR: 500}


@bp.post("/photos")
def upload():
    """Store one or more files from the multipart field "files"; a small .zip is expanded, a large one queued.

    200 with one result per file; 202 when a zip became an import job ("import": its progress URL). When
    every file failed for one cause of the server's (busy, disk full), that status, and nothing was stored.
    """
    files = request.files.getlist("files")
    if not files:
        raise InvalidInput('Send the photos as multipart form data in the field "files"')
    label = check_text("label", request.form.get("label") or "") or None
    batch = ingest_upload_batch(files, label)
    with reading():  # the reply only reads: a write lock held elsewhere must not fail what was stored
        photos = photos_of(batch.results)
        imports = [import_json(get_import(i)) for i in batch.imports]
    body = {"results": [ingest_json(r, photos.get(r.photo_id)) for r in batch.results]}
    if imports:
        return jsonify({**body, "import": imports[0], "imports": imports}), 202
    return _reply(body, batch.results, single=len(files) == 1)


def _reply(body: dict, results: list, single: bool):
    if single and len(results) == 1 and results[0].too_large:
        return jsonify({"error": results[0].error, **body}), 413
    causes = {r.failure for r in results}
    if results and len(causes) == 1 and all(r.retryable for r in results):  # nothing stored, one cause
        status = FAILURE_STATUS[results[0].failure]
        headers = {"Retry-After": str(RETRY_AFTER_BUSY)} if status == 503 else {}
        return jsonify({"error": results[0].error, **body}), status, headers
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
    return photo_json(
        photo, predictions_for([photo.id]).get(photo.id), suggestions_for([photo.id]).get(photo.id)
    )


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
@admin_only("empty the trash")
def empty_trash():
    """Delete every photo in the trash for good."""
    return jsonify({"removed": photo_service.empty_trash()})
