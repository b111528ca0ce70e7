"""The TFLite export job: convert a run's model and record the outcome on the run row."""

import logging

from sqlalchemy import update

from webapp.db import db
from webapp.db.models import TrainingRun
from webapp.worker.model_files import export_tflite, folder_bytes

log = logging.getLogger(__name__)


def tflite_job(run_id: int) -> str | None:
    """Convert a run's model to TFLite beside its .keras file; the row ends ready or failed with words."""
    db.session.rollback()  # nothing stays locked during the conversion (a minute or more for VGG16)
    try:
        path = export_tflite(run_id)
    except Exception as exc:
        log.exception("TFLite conversion of run %s failed", run_id)
        _record(run_id, "failed", f"{exc.__class__.__name__}: {exc}")
        return None
    record_ready(run_id)
    return path


def record_ready(run_id: int) -> None:
    """Mark the TFLite file ready and count it in the run's file size (the disk figure on Train sums them)."""
    run = db.session.get(TrainingRun, run_id)
    artifacts = dict(run.artifacts or {}) if run is not None else {}
    db.session.rollback()
    if not artifacts.get("model"):  # the files were deleted meanwhile: nothing to count
        _record(run_id, "ready", None)
        return
    _record(run_id, "ready", None, artifacts={**artifacts, "bytes": folder_bytes(run_id)})


def _record(run_id: int, state: str, error: str | None, **values) -> None:
    db.session.execute(
        update(TrainingRun)
        .where(TrainingRun.id == run_id)
        .values(tflite_state=state, tflite_error=error, **values)
    )
    db.session.commit()
