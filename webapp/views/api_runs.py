"""JSON API: training runs, their predictions, and predicting a photo that is not stored."""

from flask import Blueprint, current_app, jsonify, request

from .. import tasks
from ..models import active_run
from ..services import ServiceError
from ..services import runs as run_service
from ..services.predictions import list_predictions, predict_upload

bp = Blueprint("api_runs", __name__, url_prefix="/api/v1")


@bp.post("/runs")
def start_run():
    """Start training (202), or 409 with the run already in progress."""
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        raise ServiceError("Send a JSON object of settings (or nothing for the defaults)")
    cfg = current_app.config
    run = run_service.start_run(body, cfg["BACKBONE_WEIGHTS"], cfg["IMAGE_SIZE"])
    try:
        tasks.enqueue_training(run.id)
    except Exception as exc:
        from ..progress import mark_finished

        mark_finished(run.id, "failed", f"Could not queue the run: {exc}")
        raise ServiceError(
            f"The task queue is not available, so the run could not start: {exc}", 503
        ) from exc
    return jsonify(run_service.run_to_dict(run)), 202


@bp.get("/runs")
def list_runs():
    """Every run, newest first."""
    runs = run_service.list_runs()
    active = active_run()
    active = active.id if active else None
    return jsonify([run_service.run_to_dict(r, active) for r in runs])


@bp.get("/runs/<id:run_id>")
def get_run(run_id: int):
    """One run with live progress and, when done, its metrics."""
    return jsonify(run_service.run_to_dict(run_service.get_run(run_id)))


@bp.post("/runs/<id:run_id>/cancel")
def cancel_run(run_id: int):
    """Cancel a queued run, or stop a running one at its next batch."""
    return jsonify(run_service.run_to_dict(run_service.cancel_run(run_id)))


@bp.post("/runs/<id:run_id>/pin")
def pin_run(run_id: int):
    """Pin (or unpin) a run as the active model."""
    body = request.get_json(silent=True) or {}
    pinned = bool(body.get("pinned", True))
    run = run_service.pin_run(run_id, pinned)
    if pinned:  # the gallery shows the pinned run's predictions for every photo, new ones included
        tasks.enqueue_predictions(run.id)
    return jsonify(run_service.run_to_dict(run))


@bp.delete("/runs/<id:run_id>/files")
def delete_run_files(run_id: int):
    """Delete a run's model files (its metrics stay)."""
    return jsonify(run_service.run_to_dict(run_service.delete_run_files(run_id)))


@bp.get("/runs/<id:run_id>/predictions")
def predictions(run_id: int):
    """A run's predictions, filtered and sorted."""
    return jsonify(list_predictions(run_service.get_run(run_id), request.args))


@bp.post("/predict")
def predict():
    """Predict one uploaded photo with the active model, without storing it."""
    upload = request.files.get("file")
    if upload is None:
        raise ServiceError('Send the photo as multipart form data in the field "file"')
    return jsonify(predict_upload(upload.stream.read(current_app.config["MAX_UPLOAD_BYTES"] + 1)))


@bp.get("/storage")
def storage_use():
    """Disk use of photos, cached features and model files."""
    root = run_service.instance_path()
    return jsonify(
        {
            name: run_service.disk_use(root / folder)
            for name, folder in (
                ("photos_bytes", "photos"),
                ("features_bytes", "features"),
                ("models_bytes", "models"),
            )
        }
    )


@bp.get("/csrf-token")
def csrf_token():
    """A CSRF token for scripts (send it back as X-CSRFToken with the session cookie)."""
    from flask_wtf.csrf import generate_csrf

    return jsonify({"csrf_token": generate_csrf()})
