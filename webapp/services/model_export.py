"""The TFLite export: a job a worker runs (TFLite needs TensorFlow); its state is kept on the run row.

No request waits for the conversion: asking for it queues the job and answers at once, and the run's JSON says
converting, ready or failed (with words) until the file can be downloaded.
"""

from datetime import UTC, timedelta

from sqlalchemy import or_, update

from webapp import queue
from webapp.db import db
from webapp.db.models import TrainingRun, utcnow
from webapp.queue.heartbeat import worker_status
from webapp.services.errors import Conflict, Unavailable
from webapp.services.runs import get_run, model_dir

TFLITE_FILE = "model.tflite"
TFLITE_QUANTISED_FILE = "model-int8.tflite"  # the same name as webapp.ml.artifacts (the web side has no TF)
# A conversion asked for this long ago and still not done was lost with its worker: it may be asked again.
TFLITE_STALE = timedelta(minutes=15)


def tflite_state(run: TrainingRun) -> dict:
    """{"state": none|converting|ready|failed, "error"}: what a download of the TFLite file will find."""
    if not (run.artifacts or {}).get("model"):
        return {"state": "none", "error": None}
    if (model_dir(run.id) / TFLITE_FILE).is_file():
        return {"state": "ready", "error": None}
    state = run.tflite_state if run.tflite_state in ("converting", "failed") else "none"
    return {"state": state, "error": run.tflite_error if state == "failed" else None}


def has_quantised_tflite(run: TrainingRun) -> bool:
    """Whether the 8-bit TFLite file is there (runs converted before it existed have only the float one)."""
    return bool((run.artifacts or {}).get("model")) and (model_dir(run.id) / TFLITE_QUANTISED_FILE).is_file()


def request_tflite(run_id: int) -> TrainingRun:
    """Queue the conversion of a run's model to TFLite, unless it is ready or already under way."""
    run = get_run(run_id)
    state = tflite_state(run)["state"]
    if not run.artifacts.get("model"):
        raise Conflict(
            f"Run {run_id} has no model files to convert (they were deleted, or it did not succeed)"
        )
    if (state == "ready" and has_quantised_tflite(run)) or (state == "converting" and not _stale(run)):
        return run
    if worker_status() != "ok":
        raise Unavailable("No worker is running to convert the model; start one with `python -m webapp`")
    if _claim_conversion(run_id):
        _enqueue(run_id)
    db.session.refresh(run)
    return run


def _stale(run: TrainingRun) -> bool:
    asked = run.tflite_at
    if asked is None:
        return True
    return (asked if asked.tzinfo else asked.replace(tzinfo=UTC)) < utcnow() - TFLITE_STALE


def _claim_conversion(run_id: int) -> bool:
    """Mark the run converting, unless a parallel request just did (one job per conversion)."""
    stale_before = utcnow() - TFLITE_STALE
    claimed = db.session.execute(
        update(TrainingRun)
        .where(
            TrainingRun.id == run_id,
            or_(
                TrainingRun.tflite_state.is_(None),
                TrainingRun.tflite_state != "converting",
                TrainingRun.tflite_at < stale_before,
            ),
        )
        .values(tflite_state="converting", tflite_error=None, tflite_at=utcnow())
        .execution_options(synchronize_session=False)  # the caller refreshes the run
    ).rowcount
    db.session.commit()
    return claimed == 1


def _enqueue(run_id: int) -> None:
    try:
        queue.job("export_tflite")(run_id)
    except Exception as exc:  # the queue is down: say so on the row too, so the page does not wait forever
        db.session.rollback()
        message = f"The job queue is not available, so the conversion could not start: {exc}"
        db.session.execute(
            update(TrainingRun)
            .where(TrainingRun.id == run_id)
            .values(tflite_state="failed", tflite_error=message)
        )
        db.session.commit()
        raise Unavailable(message, retry_after=30) from exc
