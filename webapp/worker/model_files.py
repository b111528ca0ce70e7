"""A run's model files: pruning old runs' files, converting to TFLite."""

import logging

from sqlalchemy import select

from webapp.db import db
from webapp.db.models import TrainingRun
from webapp.queue import runstate
from webapp.worker.paths import instance_path

log = logging.getLogger(__name__)


def prune_model_files(current_id: int, keep: int) -> list[int]:
    """Delete model files of succeeded runs beyond the newest `keep` (pinned runs stay); metrics stay.

    Called once the current run is final. A folder that cannot be moved away keeps its files and its
    artifact entry (logged); leftovers of a delete that failed half-way are retried at the next prune.
    """
    runstate.sweep_removed()
    runs = db.session.scalars(
        select(TrainingRun).where(TrainingRun.status == "succeeded").order_by(TrainingRun.id.desc())
    )
    with_files = [
        r.id for r in runs if r.id != current_id and (r.artifacts or {}).get("model") and not r.pinned
    ]
    db.session.rollback()
    return [run_id for run_id in with_files[max(keep - 1, 0) :] if _prune(run_id)]


def _prune(run_id: int) -> bool:
    try:
        aside = runstate.move_aside(run_id)
    except OSError as exc:
        log.error("could not prune the model files of run %s (%s); they stay, listed", run_id, exc)
        return False
    # Conditional: a run pinned meanwhile (FOR UPDATE in pin_run) keeps its files.
    cleared = runstate.update_if(run_id, ("succeeded",), TrainingRun.pinned.is_(False), artifacts={})
    db.session.commit()
    if aside is not None and not cleared:
        runstate.put_back(aside, run_id)
    elif aside is not None:
        runstate.delete_tree(aside)
    return cleared


def folder_bytes(run_id: int) -> int:
    """Bytes of the files in a run's model folder as it is now (model, curves, labels, TFLite...)."""
    folder = instance_path() / "models" / str(run_id)
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) if folder.is_dir() else 0


def export_tflite(run_id: int) -> str:
    """Convert a run's model to TFLite beside its .keras file: float32 weights, then 8-bit weights (about 4x
    smaller, for phones); the float file is written last because its presence means "ready"."""
    from webapp.ml.artifacts import TFLITE_QUANTISED_FILE
    from webapp.ml.artifacts import export_tflite as convert

    folder = instance_path() / "models" / str(run_id)
    convert(folder / "model.keras", folder / TFLITE_QUANTISED_FILE, quantise=True)
    return str(convert(folder / "model.keras", folder / "model.tflite"))
