"""Server-rendered pages; the JavaScript modules in static/ do the rest through the JSON API."""

import shutil
import tempfile
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, request, send_file

from ..services import classes as class_service
from ..services.dataset_io import export_zip
from ..services.runs import get_run, model_dir

bp = Blueprint("pages", __name__)
# Download name -> (artifact key in the run row, MIME type); model.tflite is made on first download.
RUN_FILES = {
    "curves.png": ("curves", "image/png"),
    "model.keras": ("model", "application/octet-stream"),
    "model.tflite": (None, "application/octet-stream"),
    "labels.json": ("labels", "application/json"),
}


@bp.app_context_processor
def _common_context():
    counts = class_service.class_counts()
    return {
        "classes": [class_service.class_to_dict(c, counts) for c in class_service.list_classes()],
        "backbone_weights": current_app.config["BACKBONE_WEIGHTS"],
        "image_size": current_app.config["IMAGE_SIZE"],
    }


@bp.get("/")
def upload():
    """Upload photos (drop zone, file picker, zip)."""
    return render_template("upload.html")


@bp.get("/label")
def label():
    """Label photos one at a time with clicks or keys."""
    return render_template("label.html")


@bp.get("/photos")
def photos():
    """All photos in a grid: filter, multi-select, label many, trash."""
    return render_template("photos.html")


@bp.get("/classes")
def classes():
    """Add, rename, recolour and delete classes."""
    return render_template("classes.html")


@bp.get("/train")
def train():
    """The dataset summary, the Train button and the runs list."""
    return render_template("train.html")


@bp.get("/runs/<id:run_id>")
def run(run_id: int):
    """One run: live progress, then metrics, curves and downloads."""
    get_run(run_id)
    return render_template("run.html", run_id=run_id)


@bp.get("/gallery")
def gallery():
    """Every photo with a run's prediction."""
    return render_template("gallery.html", run_id=request.args.get("run", type=int))


@bp.get("/runs/<id:run_id>/download/<name>")
def run_file(run_id: int, name: str):
    """A run's file: learning curves, the .keras model, the TFLite model or labels.json."""
    run = get_run(run_id)
    if name not in RUN_FILES:
        abort(404, "No such file")
    key, mimetype = RUN_FILES[name]
    if name == "model.tflite":
        from ..services.model_export import ensure_tflite

        ensure_tflite(run_id)
    path = model_dir(run_id) / (run.artifacts.get(key, name) if key else name)
    if not run.artifacts or not path.is_file():
        abort(404, f"Run {run_id} has no {name} (its files may have been deleted)")
    return send_file(
        path, mimetype=mimetype, as_attachment=name != "curves.png", download_name=f"run{run_id}-{name}"
    )


@bp.get("/export.zip")
def export():
    """Download the labeled dataset: train|val|test/<class>/ plus manifest.csv."""
    folder = Path(tempfile.mkdtemp(dir=current_app.instance_path))
    try:
        export_zip(folder / "dataset.zip")
        # An open handle keeps the data readable (POSIX) while the response streams it; the name goes now.
        handle = open(folder / "dataset.zip", "rb")  # noqa: SIM115 - closed by the response
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return send_file(handle, mimetype="application/zip", as_attachment=True, download_name="dataset.zip")
