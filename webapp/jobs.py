"""Task bodies run by the worker: load rows, call webapp.ml, write progress and results back.

Imported by the web process too (to register tasks), so webapp.ml is imported inside the functions only.
"""

import logging
import os
import shutil
import socket

from flask import current_app
from sqlalchemy import delete, select

from . import storage
from .extensions import db
from .models import Photo, Prediction, TrainingRun, active_run, utcnow
from .progress import RunProgress, mark_finished
from .services import instance_path, store_settings

log = logging.getLogger(__name__)


def warm_up() -> None:
    """Import TensorFlow/Keras ahead of the first task."""
    try:
        from .ml import pipeline  # noqa: F401
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


def _image_loader(fmt_by_sha: dict[str, str], side: int):
    settings = store_settings()

    def load(sha: str):
        return storage.load_model_input(settings, sha, fmt_by_sha[sha], side)

    return load


def build_job(run: TrainingRun):
    """The plain-data description of a run that webapp.ml trains."""
    from .ml.params import TrainParams
    from .ml.pipeline import TrainingJob

    items = run.dataset["items"]
    return TrainingJob(
        weights_spec=run.weights,
        image_size=run.image_size,
        backbone_dir=instance_path() / "backbone",
        feature_root=instance_path() / "features",
        model_dir=instance_path() / "models" / str(run.id),
        labels=list(run.dataset["labels"]),
        items=[(sha, label, split) for _id, sha, _f, label, split in items],
        params=TrainParams.from_dict(run.params),
        load_image=_image_loader({i[1]: i[2] for i in items}, run.image_size),
    )


def train_run(run_id: int) -> None:
    """Train one run end to end; the run row ends succeeded, failed or cancelled whatever happens."""
    from .ml.errors import TrainingCancelled, WeightsUnavailable

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
    from .ml.pipeline import run_training

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
        photos = _live_photos()
        predict_photos(db.session.get(TrainingRun, run_id), photos, keep_alive=progress.keep_alive)
        return None
    except Exception as exc:
        log.exception("predictions of run %s failed", run_id)
        db.session.rollback()
        return f"The model was trained, but predicting the photos failed: {exc}"


def predict_photos(run: TrainingRun, photos: list, keep_alive=None) -> int:
    """Predict (photo id, sha, format) rows with a run's model and store the results."""
    from .ml.pipeline import predict_shas

    if not photos or not run.artifacts.get("model"):
        db.session.rollback()
        return 0
    run_id, labels, size = run.id, list(run.dataset["labels"]), run.image_size
    # No transaction may stay open through the slow part: SQLite would hold its write lock all along.
    db.session.rollback()
    loader = _image_loader({sha: fmt for _id, sha, fmt in photos}, size)
    shas = [sha for _id, sha, _fmt in photos]
    model_dir = instance_path() / "models" / str(run_id)
    probs = predict_shas(model_dir, instance_path() / "features", shas, loader, should_cancel=keep_alive)
    _save_predictions(run_id, labels, [p[0] for p in photos], probs)
    return len(photos)


def _save_predictions(run_id: int, labels: list[str], photo_ids: list[int], probs) -> None:
    still_there = set(db.session.scalars(select(Photo.id).where(Photo.id.in_(photo_ids))))
    db.session.execute(
        delete(Prediction).where(Prediction.run_id == run_id, Prediction.photo_id.in_(photo_ids))
    )
    for photo_id, row in zip(photo_ids, probs, strict=True):
        if photo_id not in still_there:  # emptied from the trash meanwhile
            continue
        best = int(row.argmax())
        db.session.add(
            Prediction(
                run_id=run_id,
                photo_id=photo_id,
                label=labels[best],
                confidence=float(row[best]),
                probabilities={n: round(float(p), 6) for n, p in zip(labels, row, strict=True)},
            )
        )
    db.session.commit()


def _live_photos(photo_ids: list[int] | None = None) -> list:
    query = select(Photo.id, Photo.sha256, Photo.format).where(Photo.deleted_at.is_(None))
    if photo_ids is not None:
        query = query.where(Photo.id.in_(photo_ids))
    return list(db.session.execute(query))


def predict_run(run_id: int) -> int:
    """Predict every photo with one run's model (e.g. after pinning an older run)."""
    run = db.session.get(TrainingRun, run_id)
    return predict_photos(run, _live_photos()) if run else 0


def process_new_photos(photo_ids: list[int]) -> None:
    """Compute the cached features of new photos and let the active model predict them."""
    from .ml.errors import MLError
    from .ml.pipeline import precompute_features

    photos = _live_photos(photo_ids)
    run = active_run()
    run_size = run.image_size if run is not None else None
    db.session.rollback()
    cfg = current_app.config
    loader = _image_loader({sha: fmt for _id, sha, fmt in photos}, cfg["IMAGE_SIZE"])
    try:
        precompute_features(
            cfg["BACKBONE_WEIGHTS"],
            cfg["IMAGE_SIZE"],
            instance_path() / "backbone",
            instance_path() / "features",
            [sha for _id, sha, _fmt in photos],
            loader,
        )
    except MLError as exc:  # e.g. no weights yet: Train will say so clearly
        log.warning("features not computed for new photos: %s", exc)
    if run is not None and run_size == cfg["IMAGE_SIZE"]:
        predict_photos(db.session.get(TrainingRun, run.id), photos)


def predict_image(image) -> dict:
    """Predict one image array (not stored) with the active model."""
    from .ml.pipeline import predict_arrays

    run = active_run()
    if run is None or not run.artifacts.get("model"):
        return {"error": "There is no trained model yet: press Train first"}
    run_id, labels = run.id, list(run.dataset["labels"])
    db.session.rollback()
    probs = predict_arrays(instance_path() / "models" / str(run_id), [image])[0]
    best = int(probs.argmax())
    return {
        "label": labels[best],
        "confidence": float(probs[best]),
        "run_id": run_id,
        "probabilities": {n: float(p) for n, p in zip(labels, probs, strict=True)},
    }


def export_tflite(run_id: int) -> str:
    """Convert a run's model to TFLite beside its .keras file."""
    from .ml.artifacts import export_tflite as convert

    folder = instance_path() / "models" / str(run_id)
    return str(convert(folder / "model.keras", folder / "model.tflite"))


def recover_dead_runs() -> int:
    """Fail runs left 'running' by a worker that died (kill -9, power loss); the active model is untouched."""
    from .progress import fail_dead_runs

    return fail_dead_runs(current_app.config["WORKER_STALE_SECONDS"], at_worker_start=True)
