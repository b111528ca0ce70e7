"""JSON API: training runs, their predictions, and predicting a photo that is not stored."""

from flask import Blueprint, current_app, jsonify, request

from webapp.services import runs as run_service
from webapp.services.errors import InvalidInput
from webapp.services.predictions import list_predictions, predict_upload
from webapp.web.present import prediction_page_json, run_json
from webapp.web.requests import check_query_text, field, json_body, query_flag

bp = Blueprint("api_runs", __name__, url_prefix="/api/v1")
RUN_FIELDS = {
    "epochs": field("integer", "null"),
    "batch_size": field("integer", "null"),
    "learning_rate": field("number", "null"),
    "trainable_layers": field("integer", "null"),
}
PIN_FIELDS = {"pinned": field("boolean")}


@bp.post("/runs")
def start_run():
    """Start training (202), or 409 with the run already in progress."""
    run = run_service.start_run(json_body(RUN_FIELDS, required=False))
    return jsonify(run_json(run)), 202


@bp.get("/runs")
def list_runs():
    """Every run, newest first."""
    active_id = run_service.active_run_id()
    return jsonify([run_json(r, active_id) for r in run_service.list_runs()])


@bp.get("/runs/<id:run_id>")
def get_run(run_id: int):
    """One run with live progress and, when done, its metrics."""
    return jsonify(run_json(run_service.get_run(run_id)))


@bp.post("/runs/<id:run_id>/cancel")
def cancel_run(run_id: int):
    """Cancel a queued run, or stop a running one at its next batch."""
    return jsonify(run_json(run_service.cancel_run(run_id)))


@bp.post("/runs/<id:run_id>/pin")
def pin_run(run_id: int):
    """Pin (or unpin with {"pinned": false}) a run as the active model."""
    body = json_body(PIN_FIELDS, required=False)
    return jsonify(run_json(run_service.pin_run(run_id, body.get("pinned", True))))


@bp.delete("/runs/<id:run_id>/files")
def delete_run_files(run_id: int):
    """Delete a run's model files (its metrics stay)."""
    return jsonify(run_json(run_service.delete_run_files(run_id)))


@bp.get("/runs/<id:run_id>/predictions")
def predictions(run_id: int):
    """A run's predictions, filtered and sorted."""
    check_query_text()
    for flag in ("wrong", "unlabeled"):
        query_flag(flag)  # garbage is refused with the flag's name, not read as "no"
    return jsonify(prediction_page_json(list_predictions(run_service.get_run(run_id), request.args)))


@bp.post("/predict")
def predict():
    """Predict one uploaded photo with the active model, without storing it."""
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput('Send the photo as multipart form data in the field "file"')
    return jsonify(predict_upload(upload.stream.read(current_app.config["MAX_UPLOAD_BYTES"] + 1)))


@bp.get("/storage")
def storage_use():
    """Disk use of photos, cached features and model files."""
    return jsonify(run_service.storage_use())


@bp.get("/csrf-token")
def csrf_token():
    """A CSRF token for scripts (send it back as X-CSRFToken with the session cookie)."""
    from flask_wtf.csrf import generate_csrf

    return jsonify({"csrf_token": generate_csrf()})
