"""JSON API: training runs, their predictions, and predicting a photo that is not stored."""

from flask import Blueprint, current_app, jsonify, request, url_for

from webapp.services import runs as run_service
from webapp.services.errors import InvalidInput
from webapp.services.model_export import request_tflite
from webapp.services.photo_queries import page_args
from webapp.services.predictions import list_predictions, predict_upload
from webapp.web.auth import admin_only
from webapp.web.present import prediction_page_json, run_json
from webapp.web.requests import check_query_text, field, json_body, query_flag

bp = Blueprint("api_runs", __name__, url_prefix="/api/v1")
RUN_FIELDS = {
    "epochs": field("integer", "null"),
    "batch_size": field("integer", "null"),
    "learning_rate": field("number", "null"),
    "trainable_layers": field("integer", "null"),
    "backbone": field("string", "null"),
}
PIN_FIELDS = {"pinned": field("boolean")}


@bp.post("/runs")
@admin_only("start training")
def start_run():
    """Start training (202), or 409 with the run already in progress."""
    run = run_service.start_run(json_body(RUN_FIELDS, required=False))
    return jsonify(run_json(run)), 202


@bp.get("/runs")
def list_runs():
    """A page of runs, newest first (?page=&per_page=, 50 by default): a JSON list; X-Total-Count and Link
    headers tell the rest."""
    page, per_page = page_args(request.args, default_per_page=run_service.RUNS_PER_PAGE)
    runs, total = run_service.list_runs(page, per_page)
    active_id = run_service.active_run_id()
    response = jsonify([run_json(r, active_id) for r in runs])
    response.headers["X-Total-Count"] = str(total)
    links = _page_links(page, per_page, total)
    if links:
        response.headers["Link"] = links
    return response


def _page_links(page: int, per_page: int, total: int) -> str:
    """RFC 8288 links to the neighbouring pages."""
    pages = {"first": 1, "prev": page - 1, "next": page + 1, "last": max(1, -(-total // per_page))}
    wanted = {rel: n for rel, n in pages.items() if 1 <= n <= pages["last"] and n != page}
    return ", ".join(
        f'<{url_for("api_runs.list_runs", page=n, per_page=per_page)}>; rel="{rel}"'
        for rel, n in wanted.items()
    )


@bp.get("/runs/defaults")
def train_defaults():
    """The backbone new runs get (WEBAPP_BACKBONE) and each backbone's default settings."""
    return jsonify(run_service.train_defaults())


@bp.get("/runs/<id:run_id>")
def get_run(run_id: int):
    """One run with live progress and, when done, its metrics."""
    return jsonify(run_json(run_service.get_run(run_id)))


@bp.post("/runs/<id:run_id>/cancel")
@admin_only("cancel a run")
def cancel_run(run_id: int):
    """Cancel a queued run, or stop a running one at its next batch."""
    return jsonify(run_json(run_service.cancel_run(run_id)))


@bp.post("/runs/<id:run_id>/pin")
@admin_only("choose the active model")
def pin_run(run_id: int):
    """Pin (or unpin with {"pinned": false}) a run as the active model."""
    body = json_body(PIN_FIELDS, required=False)
    return jsonify(run_json(run_service.pin_run(run_id, body.get("pinned", True))))


@bp.delete("/runs/<id:run_id>/files")
@admin_only("delete a run's files")
def delete_run_files(run_id: int):
    """Delete a run's model files (its metrics stay)."""
    run = run_service.delete_run_files(run_id)
    run_service.forget_storage_use()  # the train page shows the freed space at once
    return jsonify(run_json(run))


@bp.post("/runs/<id:run_id>/tflite")
def make_tflite(run_id: int):
    """Have a worker convert the run's model to TFLite (202 with the run; its "tflite" tells the progress)."""
    json_body({}, required=False)
    return jsonify(run_json(request_tflite(run_id))), 202


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
