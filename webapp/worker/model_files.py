"""A run's model files: pruning old runs' files, converting to TFLite."""

import shutil

from sqlalchemy import select

from webapp.db import db
from webapp.db.models import TrainingRun
from webapp.worker.paths import instance_path


def prune_model_files(current_id: int, keep: int) -> list[int]:
    """Delete model files of finished runs beyond the newest `keep` (pinned runs stay); metrics stay."""
    runs = db.session.scalars(
        select(TrainingRun).where(TrainingRun.status == "succeeded").order_by(TrainingRun.id.desc())
    )
    with_files = [r for r in runs if r.id != current_id and (r.artifacts or {}).get("model") and not r.pinned]
    pruned = []
    for run in with_files[max(keep - 1, 0) :]:
        shutil.rmtree(instance_path() / "models" / str(run.id), ignore_errors=True)
        run.artifacts = {}
        pruned.append(run.id)
    db.session.commit()
    return pruned


def export_tflite(run_id: int) -> str:
    """Convert a run's model to TFLite beside its .keras file."""
    from webapp.ml.artifacts import export_tflite as convert

    folder = instance_path() / "models" / str(run_id)
    return str(convert(folder / "model.keras", folder / "model.tflite"))
