"""Server-rendered pages; the JavaScript modules in static/ do the rest through the JSON API."""

from flask import Blueprint, Response, current_app, jsonify, render_template, request, send_file

from webapp.params import BACKBONE_TITLES
from webapp.services import classes as class_service
from webapp.services import store_settings
from webapp.services.exports import CLEAN, ORIGINALS, check_kind, export_rows, stream_zip
from webapp.services.model_export import TFLITE_FILE, tflite_state
from webapp.services.run_files import run_file as find_run_file
from webapp.services.runs import get_run
from webapp.services.zips import ZipLimits
from webapp.web.auth import admin_only

bp = Blueprint("pages", __name__)


@bp.app_context_processor
def _common_context():
    # Config only: error pages render with this too, and must not read the database.
    return {
        "backbone_weights": current_app.config["BACKBONE_WEIGHTS"],
        "image_size": current_app.config["IMAGE_SIZE"],
    }


def render_page(template: str, **context):
    """Render a page with the classes (the header's counts, the pages' class buttons)."""
    counts = class_service.class_counts()
    classes = [class_service.class_to_dict(c, counts) for c in class_service.list_classes()]
    return render_template(template, classes=classes, **context)


@bp.get("/")
def upload():
    """Upload photos (drop zone, file picker, zip)."""
    return render_page("upload.html", zip_limits=ZipLimits.from_config(current_app.config))


@bp.get("/label")
def label():
    """Label photos one at a time with clicks or keys."""
    return render_page("label.html")


@bp.get("/photos")
def photos():
    """All photos in a grid: filter, multi-select, label many, trash."""
    return render_page("photos.html")


@bp.get("/classes")
def classes():
    """Add, rename, recolour and delete classes."""
    return render_page("classes.html")


@bp.get("/train")
def train():
    """The dataset summary, the Train button and the runs list."""
    backbone = BACKBONE_TITLES.get(current_app.config["BACKBONE"], current_app.config["BACKBONE"])
    return render_page("train.html", default_backbone=backbone)


@bp.get("/runs/<id:run_id>")
def run(run_id: int):
    """One run: live progress, then metrics, curves and downloads."""
    get_run(run_id)
    return render_page("run.html", run_id=run_id)


@bp.get("/gallery")
def gallery():
    """Every photo with a run's prediction."""
    return render_page("gallery.html", run_id=request.args.get("run", type=int))


@bp.get("/settings")
@admin_only("see the settings")
def settings():
    """Users and API tokens (admins only)."""
    return render_page("settings.html")


@bp.get("/runs/<id:run_id>/download/<name>")
def run_file(run_id: int, name: str):
    """A run's file: learning curves, the .keras model, the TFLite model or labels.json.

    The TFLite file is made by a worker job: until it is there this answers at once, as JSON, 202 while it
    is converting and 409 when nobody asked for it yet or it failed (never waiting for the conversion).
    """
    if name == TFLITE_FILE:
        run = get_run(run_id)
        state = tflite_state(run)
        if state["state"] != "ready" and run.artifacts.get("model"):
            return _tflite_not_ready(run_id, state)
    found = find_run_file(run_id, name)
    return send_file(
        found.path,
        mimetype=found.mimetype,
        as_attachment=name != "curves.png",
        download_name=found.download_name,
    )


def _tflite_not_ready(run_id: int, state: dict):
    ask = f'press "Make the TFLite file" on the run page (or POST /api/v1/runs/{run_id}/tflite)'
    if state["state"] == "converting":
        body = {"status": "converting", "message": "The TFLite file is being made; try again in a moment"}
        return jsonify({**body, "tflite": state}), 202, {"Retry-After": "5"}
    if state["state"] == "failed":
        error = f"The TFLite conversion failed: {state['error']}. To try again, {ask}"
    else:
        error = f"The TFLite file of run {run_id} has not been made yet: {ask}"
    return jsonify({"error": error, "tflite": state}), 409


@bp.get("/export.zip")
def export():
    """Download the labeled dataset, train|val|test/<class>/ plus manifest.csv, streamed as it is zipped.

    ?files=clean (the default): clean copies, no metadata; ?files=originals: originals, with their metadata.
    """
    kind = check_kind(request.args.get("files", CLEAN))
    rows = export_rows(kind)  # read now: the stream below touches files only, never the database
    name = "dataset-originals.zip" if kind == ORIGINALS else "dataset.zip"
    response = Response(stream_zip(rows, store_settings()), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
