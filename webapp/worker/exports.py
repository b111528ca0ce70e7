"""The TFLite export job: convert a run's model and record the outcome on the run row."""

import logging

from sqlalchemy import update

from webapp.db import db
from webapp.db.models import TrainingRun
from webapp.worker.model_files import export_tflite

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
    _record(run_id, "ready", None)
    return path


def _record(run_id: int, state: str, error: str | None) -> None:
    db.session.execute(
        update(TrainingRun).where(TrainingRun.id == run_id).values(tflite_state=state, tflite_error=error)
    )
    db.session.commit()
