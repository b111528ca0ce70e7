"""JSON API: upload, list, label, move, trash and restore photos."""

from flask import Blueprint, jsonify, request

from ..services import ServiceError
from ..services import photos as photo_service
from ..services.dataset_io import ingest_zip, is_zip
from ..services.photo_queries import PhotoFilter, list_ids, list_page, page_args, predictions_for
from .api_classes import json_body

bp = Blueprint("api_photos", __name__, url_prefix="/api/v1")


@bp.post("/photos")
def upload():
    """Store one or more files from the multipart field "files" (a .zip is expanded)."""
    files = request.files.getlist("files")
    if not files:
        raise ServiceError('Send the photos as multipart form data in the field "files"')
    label = request.form.get("label") or None
    if label:
        photo_service.resolve_label(label)
    results = []
    for upload in files:
        results.extend(_ingest_upload(upload, label))
    _after_upload(results)
    if len(files) == 1 and results and results[0].get("too_large"):
        return jsonify({"error": results[0]["error"], "results": _public(results)}), 413
    return jsonify({"results": _public(results)})


def _ingest_upload(upload, label: str | None) -> list[dict]:
    limit = photo_service.store_settings().max_bytes
    head = upload.stream.read(4)
    upload.stream.seek(0)
    if is_zip(upload.filename, head):
        return ingest_zip(upload.stream, label=label)
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        size = upload.content_length or len(data)
        result = {
            "filename": photo_service.display_name(upload.filename),
            "status": "rejected",
            "photo": None,
            "error": photo_service.too_large_message(max(size, len(data)), limit),
            "duplicate_of": None,
        }
        return [{**result, "too_large": True}]
    return [photo_service.ingest(data, upload.filename, label=label)]


def _public(results: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "too_large"} for r in results]


def _after_upload(results: list[dict]) -> None:
    from .. import tasks

    stored = [r["photo"]["id"] for r in results if r["status"] == "stored"]
    if stored:
        tasks.enqueue_new_photos(stored)


@bp.get("/photos")
def list_photos():
    """A page of photos matching label / split / unlabeled / trash filters."""
    page, per_page = page_args(request.args)
    return jsonify(list_page(PhotoFilter.from_args(request.args), page, per_page))


@bp.get("/photos/ids")
def photo_ids():
    """All ids matching the filters, in order (for walking photos one by one)."""
    return jsonify({"ids": list_ids(PhotoFilter.from_args(request.args))})


@bp.get("/photos/<id:photo_id>")
def get_photo(photo_id: int):
    """One photo."""
    photo = photo_service.get_photo(photo_id)
    return jsonify(photo_service.photo_to_dict(photo, predictions_for([photo.id]).get(photo.id)))


@bp.patch("/photos/<id:photo_id>")
def update_photo(photo_id: int):
    """Set or clear the label, or move the photo to another split."""
    photo = photo_service.update_photo(photo_id, json_body())
    return jsonify(photo_service.photo_to_dict(photo, predictions_for([photo.id]).get(photo.id)))


@bp.delete("/photos/<id:photo_id>")
def delete_photo(photo_id: int):
    """Move a photo to the trash."""
    return jsonify(photo_service.photo_to_dict(photo_service.trash_photo(photo_id)))


@bp.post("/photos/<id:photo_id>/restore")
def restore_photo(photo_id: int):
    """Bring a photo back from the trash."""
    return jsonify(photo_service.photo_to_dict(photo_service.restore_photo(photo_id)))


@bp.post("/photos/bulk")
def bulk():
    """Label, move, delete or restore many photos at once."""
    body = json_body()
    return jsonify({"updated": photo_service.bulk_update(body.get("ids"), body)})


@bp.post("/trash/empty")
def empty_trash():
    """Delete every photo in the trash for good."""
    return jsonify({"removed": photo_service.empty_trash()})
