"""The JSON shapes of the API (DESIGN.md "HTTP API"): domain objects in, dicts with URLs out."""

from flask import url_for

from webapp.db.models import Photo, Prediction, TrainingRun, iso
from webapp.services.ingest import IngestResult
from webapp.services.model_export import (
    TFLITE_FILE,
    TFLITE_QUANTISED_FILE,
    has_quantised_tflite,
    tflite_state,
)
from webapp.services.runs import active_run_id
from webapp.services.weights import run_failure


def photo_json(photo: Photo, prediction: dict | None = None, suggestion: dict | None = None) -> dict:
    """A photo, with its derived copies' URLs, the active model's prediction and the instant suggestion."""
    return {
        "id": photo.id,
        "sha256": photo.sha256,
        "filename": photo.filename,
        "width": photo.width,
        "height": photo.height,
        "label": photo.label.name if photo.label else None,
        "split": photo.split,
        "thumbnail_url": url_for("media.thumbnail", sha=photo.sha256),
        "display_url": url_for("media.display", sha=photo.sha256),
        "created_at": iso(photo.created_at),
        "deleted": photo.deleted_at is not None,
        "prediction": prediction,
        "suggestion": suggestion,
        "group": photo.group_id,
    }


def photo_page_json(page: dict) -> dict:
    """A page of photos as listed by webapp.services.photo_queries.list_page."""
    return {**page, "photos": [photo_json(*row) for row in page["photos"]]}


def ingest_json(result: IngestResult, photo: Photo | None = None) -> dict:
    """One file's upload outcome (photo: the stored or duplicated photo, read for the reply)."""
    return {
        "filename": result.filename,
        "status": result.status,
        "photo": photo_json(photo) if photo is not None else None,
        "error": result.error,
        "duplicate_of": result.duplicate_of,
        "retryable": result.retryable,
        "near_duplicate_of": result.near_duplicate_of,
        "note": near_note(result.near_duplicate_of),
    }


def near_note(near_duplicate_of: int | None) -> str | None:
    """The per-file note of a photo stored beside a near-duplicate (it joined that photo's group)."""
    return f"near-duplicate of #{near_duplicate_of}" if near_duplicate_of is not None else None


def run_json(run: TrainingRun, active_id: int | None = None) -> dict:
    """A run: status, params, live progress, metrics (the dataset's photo list left out)."""
    if active_id is None:
        active_id = active_run_id()
    dataset = {k: v for k, v in (run.dataset or {}).items() if k not in ("items", "warnings")}
    duration = (
        (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else None
    )
    files = run.artifacts or {}
    return {
        "id": run.id,
        "status": run.status,
        "params": run.params,
        "backbone": (run.params or {}).get("backbone", "vgg16"),  # runs from before the choice: VGG16
        "progress": _progress(run),
        "metrics": run.metrics,
        "error": run.error,
        "failure": run_failure(run),
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_seconds": duration,
        "dataset": dataset,
        "warnings": (run.dataset or {}).get("warnings", []),
        "weights": run.weights,
        "image_size": run.image_size,
        "active": run.id == active_id,
        "pinned": run.pinned,
        "curves_url": url_for("pages.run_file", run_id=run.id, name="curves.png")
        if files.get("curves")
        else None,
        "has_model_files": bool(files.get("model")),
        "model_bytes": files.get("bytes", 0),
        "timings": run.timings,
        "cancel_requested": run.cancel_requested,
        "tflite": _tflite(run),
    }


def _tflite(run: TrainingRun) -> dict:
    quantised = has_quantised_tflite(run)
    return {
        **tflite_state(run),
        "url": url_for("pages.run_file", run_id=run.id, name=TFLITE_FILE),
        "quantised_url": url_for("pages.run_file", run_id=run.id, name=TFLITE_QUANTISED_FILE)
        if quantised
        else None,
    }


def _progress(run: TrainingRun) -> dict:
    progress = {
        "stage": run.status,
        "epoch": 0,
        "epochs": run.params.get("epochs"),
        "batch": 0,
        "batches": 0,
        "history": [],
    }
    progress.update(run.progress or {})
    progress["epochs"] = progress.get("epochs") or run.params.get("epochs")
    return progress


def prediction_json(pred: Prediction, photo: Photo, true_label: str | None) -> dict:
    """One photo's prediction by a run, beside its true label when it has one."""
    return {
        "photo_id": photo.id,
        "label": pred.label,
        "confidence": pred.confidence,
        "probabilities": pred.probabilities,
        "true_label": true_label,
        "correct": None if true_label is None else true_label == pred.label,
        "split": photo.split,
        "filename": photo.filename,
        "thumbnail_url": url_for("media.thumbnail", sha=photo.sha256),
        "display_url": url_for("media.display", sha=photo.sha256),
    }


def prediction_page_json(page: dict) -> dict:
    """A page of a run's predictions as listed by webapp.services.predictions.list_predictions."""
    return {**page, "predictions": [prediction_json(*row) for row in page["predictions"]]}


def extra_json(value):
    """Data attached to a domain error, made JSON-ready (a run in progress becomes its run JSON)."""
    if isinstance(value, TrainingRun):
        return run_json(value)
    return value
