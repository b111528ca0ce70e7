"""Job bodies the worker runs: load rows, call webapp.ml, write progress and results back.

webapp.ml (TensorFlow) is imported inside the functions: the consumer's parent process forks the workers and
must not load TensorFlow before it does.
"""

import errno
import logging

from flask import current_app

from webapp.db import db
from webapp.db.models import TrainingRun
from webapp.queue import runstate
from webapp.queue.heartbeat import worker_name
from webapp.queue.runstate import RunClosed, discard_run_files, mark_finished, update_running
from webapp.worker import stopping
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
from webapp.worker.suggesting import suggest_job
from webapp.worker.weights import check_weights, note_download

log = logging.getLogger(__name__)


def warm_up() -> None:
    """Import TensorFlow/Keras ahead of the first task."""
    try:
        from webapp.ml import pipeline  # noqa: F401
    except Exception:  # a broken install shows up in the first task's error instead
        log.exception("warm-up import failed")


def claim_run(run_id: int) -> TrainingRun | None:
    """Take a queued run for this worker process; None when it was cancelled or taken meanwhile."""
    if not runstate.claim(run_id, worker_name()):
        return None
    return db.session.get(TrainingRun, run_id)


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
    run = claim_run(run_id)
    if run is None:
        return
    progress = RunProgress(run_id)
    status, error = "failed", "The worker stopped unexpectedly; press Train to start again"
    with stopping.cooperating():  # SIGTERM stops the run at its next batch, never in its clean-up
        try:
            status, error = _attempt(run, progress)
        except BaseException:
            error = f"The worker was stopped during {progress.where()}; press Train to start again"
            raise
        finally:
            db.session.rollback()
            _close(run_id, status, error)


def _attempt(run: TrainingRun, progress: RunProgress) -> tuple[str, str | None]:
    """(status, error) of a run that ended normally: trained, cancelled or failed in plain words."""
    from webapp.ml.errors import TrainingCancelled, WeightsUnavailable

    run_id, params, weights = run.id, dict(run.params or {}), run.weights
    try:
        _train(run, progress)
        note_download(params, weights, None)
        return "succeeded", _store_predictions(run_id, progress)
    except TrainingCancelled:
        if stopping.requested():  # SIGTERM: the app or its container is stopping
            return "failed", f"The worker was stopped during {progress.where()}; press Train to start again"
        return "cancelled", f"Cancelled by the user during {progress.where()}"
    except WeightsUnavailable as exc:
        progress.failed_because("weights")  # the run page offers to upload the weights file
        note_download(params, weights, str(exc))
        return "failed", str(exc)
    except RunClosed as exc:
        log.warning("training run %s stopped: %s", run_id, exc)
        return "failed", str(exc)
    except Exception as exc:
        log.exception("training run %s failed", run_id)
        if _disk_full(exc):
            progress.failed_because("disk_full")
        return "failed", failure_words(exc, progress.where())


def failure_words(exc: BaseException, where: str) -> str:
    """The run's error for an unexpected exception, in words a person can act on."""
    if _disk_full(exc):
        return (
            f"Training failed during {where}: the disk is full. Free some space (delete the model files "
            "of old runs), then press Train again"
        )
    return f"Training failed during {where}: {exc}"


def _disk_full(exc: BaseException | None) -> bool:
    for _ in range(10):  # the OSError may be wrapped by Keras or h5py
        if exc is None:
            return False
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _close(run_id: int, status: str, error: str | None) -> None:
    """Record how the run ended, then tidy files; nothing after the record changes its status or error."""
    if not mark_finished(run_id, status, error):
        # Another process failed it as dead meanwhile: that verdict stands; what we wrote since goes.
        log.warning("run %s was closed elsewhere before it %s; its files are removed", run_id, status)
        discard_run_files(run_id)
    elif status != "succeeded":
        discard_run_files(run_id)  # half-written model files of a failed or cancelled run
    else:
        try:
            prune_model_files(run_id, current_app.config["KEEP_MODEL_RUNS"])
        except Exception:
            db.session.rollback()
            log.exception("pruning old model files after run %s failed; they stay", run_id)


def _train(run: TrainingRun, progress: RunProgress):
    from webapp.ml.pipeline import run_training

    run_id, job = run.id, build_job(run)
    db.session.rollback()  # nothing stays locked while the backbone loads and features compute
    result = run_training(job, progress)
    update_running(
        run_id,
        metrics=result.metrics,
        artifacts=_artifacts(result),
        timings={**result.timings, "features_computed": result.features_computed},
        progress={**progress.state, "history": result.history},
    )
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
    "suggest": suggest_job,
    "check_weights": check_weights,
}
