"""JSON API: the progress and results of a zip imported in the background."""

from flask import Blueprint, jsonify, url_for

from webapp.db.models import ImportJob, iso
from webapp.services.import_jobs import get_import, stalled
from webapp.web.present import near_note

bp = Blueprint("api_imports", __name__, url_prefix="/api/v1")
STALLED = (
    "The worker stopped during this import; {done:,} files were done. Upload the zip again to import the "
    "rest (photos already stored are skipped as duplicates)"
)


@bp.get("/imports/<id:import_id>")
def import_status(import_id: int):
    """One import: status, progress, counts and, once done, one result per file."""
    return jsonify(import_json(get_import(import_id)))


def import_json(job: ImportJob) -> dict:
    """An import as the API shows it (a stalled one reads as failed, with words saying why)."""
    status, error = job.status, job.error
    if stalled(job):
        status, error = "failed", STALLED.format(done=job.done)
    return {
        "id": job.id,
        "url": url_for("api_imports.import_status", import_id=job.id),
        "filename": job.filename,
        "label": job.label,
        "status": status,
        "progress": {"done": job.done, "total": job.total},
        "counts": {"stored": 0, "duplicate": 0, "rejected": 0, **(job.counts or {})},
        "results": [_result_json(r) for r in job.results or []],
        "error": error,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
    }


def _result_json(result: dict) -> dict:
    photo_id = result.get("photo_id")
    return {
        "filename": result.get("filename"),
        "status": result.get("status"),
        "photo_id": photo_id,
        "error": result.get("error"),
        "duplicate_of": photo_id if result.get("status") == "duplicate" else None,
        "retryable": result.get("failure") in ("busy", "disk_full", "error"),
        "near_duplicate_of": result.get("near_duplicate_of"),
        "note": near_note(result.get("near_duplicate_of")),
    }
