"""Prediction jobs: every photo with a run's model, new photos with the active model, one image not stored."""

import logging

from flask import current_app
from sqlalchemy import delete, select

from webapp.db import db
from webapp.db.models import Photo, Prediction, TrainingRun, active_run
from webapp.worker.paths import image_loader, instance_path

log = logging.getLogger(__name__)


def predict_photos(run: TrainingRun, photos: list, keep_alive=None) -> int:
    """Predict (photo id, sha, format) rows with a run's model and store the results."""
    from webapp.ml.pipeline import predict_shas

    if not photos or not run.artifacts.get("model"):
        db.session.rollback()
        return 0
    run_id, labels, size = run.id, list(run.dataset["labels"]), run.image_size
    # No transaction may stay open through the slow part: SQLite would hold its write lock all along.
    db.session.rollback()
    loader = image_loader({sha: fmt for _id, sha, fmt in photos}, size)
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


def live_photos(photo_ids: list[int] | None = None) -> list:
    """(id, sha256, format) of photos outside the trash, all or these."""
    query = select(Photo.id, Photo.sha256, Photo.format).where(Photo.deleted_at.is_(None))
    if photo_ids is not None:
        query = query.where(Photo.id.in_(photo_ids))
    return list(db.session.execute(query))


def predict_run(run_id: int) -> int:
    """Predict every photo with one run's model (e.g. after pinning an older run)."""
    run = db.session.get(TrainingRun, run_id)
    return predict_photos(run, live_photos()) if run else 0


def process_new_photos(photo_ids: list[int]) -> None:
    """Compute the cached features of new photos and let the active model predict them."""
    from webapp.ml.errors import MLError
    from webapp.ml.pipeline import precompute_features

    photos = live_photos(photo_ids)
    run = active_run()
    run_size = run.image_size if run is not None else None
    db.session.rollback()
    cfg = current_app.config
    loader = image_loader({sha: fmt for _id, sha, fmt in photos}, cfg["IMAGE_SIZE"])
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
    from webapp.ml.pipeline import predict_arrays

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
