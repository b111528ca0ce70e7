"""JSON API: where each backbone's weights stand, and uploading a weights file downloaded elsewhere."""

from flask import Blueprint, jsonify, request, url_for

from webapp.db.models import WeightsUpload
from webapp.params import BACKBONES
from webapp.services.errors import InvalidInput
from webapp.services.weights import setting_kind, weights_status
from webapp.services.weights_uploads import get_upload, latest_upload, start_upload, upload_to_dict
from webapp.web.auth import admin_only
from webapp.web.requests import check_text

bp = Blueprint("api_weights", __name__, url_prefix="/api/v1")


@bp.get("/weights")
def weights():
    """Each backbone's weights: cached, to be downloaded, failed or uploaded, with the latest upload."""
    items = [{**weights_status(name), "upload": _upload_json(latest_upload(name))} for name in BACKBONES]
    return jsonify({"setting": setting_kind(), "backbones": items})


@bp.post("/weights")
@admin_only("upload backbone weights")
def upload_weights():
    """Receive a weights file (multipart "file", form field "backbone"); 202, a worker checks it."""
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput('Send the weights file as multipart form data in the field "file"')
    try:
        backbone = check_text("backbone", request.form.get("backbone") or "vgg16")
        row = start_upload(backbone, upload)
    finally:
        upload.close()  # a large file was spooled to a temporary file: closed now, not at garbage collection
    return jsonify(_upload_json(row)), 202


@bp.get("/weights/uploads/<id:upload_id>")
def upload_status(upload_id: int):
    """One weights upload: queued, running (being loaded), succeeded or failed with the reason."""
    return jsonify(_upload_json(get_upload(upload_id)))


def _upload_json(row: WeightsUpload | None) -> dict | None:
    if row is None:
        return None
    return {**upload_to_dict(row), "url": url_for("api_weights.upload_status", upload_id=row.id)}
