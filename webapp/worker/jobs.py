"""Job bodies the worker runs: load rows, call webapp.ml, write progress and results back.

webapp.ml (TensorFlow) is imported inside the functions: the consumer's parent process forks the workers and
must not load TensorFlow before it does.
"""

import logging
import os
import socket

from flask import current_app

from webapp.db import db
from webapp.db.models import TrainingRun, utcnow
from webapp.queue.runstate import mark_finished
from webapp.worker.exports import tflite_job
from webapp.worker.model_files import prune_model_files
from webapp.worker.paths import image_loader, instance_path
from webapp.worker.predicting import (
    live_photos,
    predict_image,
    predict_photos,
    predict_run,
    process_new_photos,
)
from webapp.worker.progress import RunProgress

log = logging.getLogger(__name__)


def warm_up() -> None:
    """Import TensorFlow/Keras ahead of the first task."""
    try:
        from webapp.ml import pipeline  # noqa: F401
    except Exception:  # a broken install shows up in the first task's error instead
        log.exception("warm-up import failed")


def _claim(run_id: int) -> TrainingRun | None:
    run = db.session.get(TrainingRun, run_id)
    if run is None or run.status != "queued":
        db.session.rollback()
        return None
    run.status, run.started_at, run.heartbeat_at = "running", utcnow(), utcnow()
    run.worker = f"{socket.gethostname()}:{os.getpid()}"
    run.progress = {**(run.progress or {}), "stage": "starting"}
    db.session.commit()
    return run


def build_job(run: TrainingRun):
    """The plain-data description of a run that webapp.ml trains."""
    from webapp.ml.pipeline import TrainingJob
    from webapp.params import TrainParams

    items = run.dataset_items or []
    return TrainingJob(
        weights_spec=run.weights,
        image_size=run.image_size,
        backbone_dir=instance_path() / "backbone",
        feature_root=instance_path() / "features",
        model_dir=instance_path() / "models" / str(run.id),
        labels=list(run.dataset["labels"]),
        items=[(sha, label, split) for _id, sha, _f, label, split in items],
        params=TrainParams.from_dict(run.params),
        load_image=image_loader({i[1]: i[2] for i in items}, run.image_size),
    )


def train_run(run_id: int) -> None:
    """Train one run end to end; the run row ends succeeded, failed or cancelled whatever happens."""
    from webapp.ml.errors import TrainingCancelled, WeightsUnavailable

    run = _claim(run_id)
    if run is None:
        return
    progress = RunProgress(run_id)
    status, error = "failed", "The worker stopped unexpectedly; press Train to start again"
    try:
        _train(run, progress)
        status, error = "succeeded", None
        prune_model_files(run_id, current_app.config["KEEP_MODEL_RUNS"])
        error = _store_predictions(run_id, progress)
    except TrainingCancelled:
        status, error = "cancelled", f"Cancelled by the user during {progress.where()}"
    except WeightsUnavailable as exc:
        error = str(exc)
    except Exception as exc:
        log.exception("training run %s failed", run_id)
        error = f"Training failed during {progress.where()}: {exc}"
    except BaseException:
        error = f"The worker was stopped during {progress.where()}; press Train to start again"
        raise
    finally:
        db.session.rollback()
        mark_finished(run_id, status, error)


def _train(run: TrainingRun, progress: RunProgress):
    from webapp.ml.pipeline import run_training

    run_id, job = run.id, build_job(run)
    db.session.rollback()  # nothing stays locked while the backbone loads and features compute
    result = run_training(job, progress)
    run = db.session.get(TrainingRun, run_id)
    run.metrics = result.metrics
    run.artifacts = _artifacts(result)
    run.timings = {**result.timings, "features_computed": result.features_computed}
    run.progress = {**run.progress, "history": result.history}
    db.session.commit()
    return result


def _artifacts(result) -> dict:
    paths = {
        "model": result.model_path,
        "curves": result.curves_path,
        "labels": result.labels_path,
        "info": result.info_path,
    }
    folder = result.model_path.parent
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    return {**{k: p.name for k, p in paths.items()}, "bytes": size}


def _store_predictions(run_id: int, progress: RunProgress) -> str | None:
    """Predict every photo with the new model; a failure here leaves the trained model usable."""
    try:
        progress.stage("predicting")
        photos = live_photos()
        predict_photos(db.session.get(TrainingRun, run_id), photos, keep_alive=progress.keep_alive)
        return None
    except Exception as exc:
        log.exception("predictions of run %s failed", run_id)
        db.session.rollback()
        return f"The model was trained, but predicting the photos failed: {exc}"


def recover_dead_runs() -> int:
    """Fail runs left 'running' by a worker that died (kill -9, power loss); the active model is untouched."""
    from webapp.queue.runstate import fail_dead_runs

    return fail_dead_runs(current_app.config["WORKER_STALE_SECONDS"], at_worker_start=True)


BODIES = {
    "train_run": train_run,
    "process_new_photos": process_new_photos,
    "predict_image": predict_image,
    "predict_run": predict_run,
    "export_tflite": tflite_job,
}
