"""Prediction jobs: every photo with a run's model, new photos with the active model, one image not stored."""

import logging

from flask import current_app
from sqlalchemy import delete, select

from webapp import queue
from webapp.db import db
from webapp.db.models import Photo, Prediction, TrainingRun, active_run
from webapp.logs import Once
from webapp.queue import suggestions
from webapp.worker.paths import image_loader, instance_path

log = logging.getLogger(__name__)
_SAID = Once()
# Photos per round of process_new_photos: a Train waits for at most one round (~10 s at 224 px on 2 cores).
ROUND = 64
# The id of the newest photo whose features a round computed (kept in the queue's key-value store).
NEW_PHOTOS_MARK = "webapp.new_photos.mark"


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


def process_new_photos(photo_ids: list[int] | None = None) -> int:
    """One round of background work on stored photos: features of new ones, the active model's predictions.

    Coalesced (webapp.queue.enqueue_new_photos): one round at a time takes up to ROUND photos, whichever
    uploads stored them, then queues the next round if work is left. Between rounds a Train (higher
    priority) runs first. photo_ids is ignored (jobs queued by older versions carry it).
    """
    queue_huey = queue.huey()
    if not queue.new_photos_begin(queue_huey):
        return 0  # another round is working; it looks for new photos again when it ends
    more = False
    try:
        done, more = _one_round()
    finally:
        queue.new_photos_end(queue_huey, more)
    return done


def _one_round() -> tuple[int, bool]:
    """(photos handled, whether more are waiting)."""
    queue_huey = queue.huey()
    mark = queue_huey.get(NEW_PHOTOS_MARK, peek=True) or 0
    fresh = list(
        db.session.execute(
            select(Photo.id, Photo.sha256, Photo.format)
            .where(Photo.deleted_at.is_(None), Photo.id > mark)
            .order_by(Photo.id)
            .limit(ROUND)
        )
    )
    _one_by_one_on_failure(_precompute, fresh)
    if fresh:
        queue_huey.put(NEW_PHOTOS_MARK, fresh[-1][0])
        suggestions.enqueue()  # the new photos have features now: suggest labels for them
    run = active_run()
    if run is None or run.image_size != current_app.config["IMAGE_SIZE"]:
        db.session.rollback()
        return len(fresh), len(fresh) == ROUND
    photos = _unpredicted(run.id)
    predicted = _one_by_one_on_failure(lambda some: predict_photos(run, some), photos)
    # Photos that fail every time (a missing original, say) must not keep rounds coming for ever.
    return len(fresh) + predicted, len(fresh) == ROUND or (len(photos) == ROUND and predicted > 0)


def _one_by_one_on_failure(work, photos: list) -> int:
    """work(photos), or when that fails, work([photo]) for each (one bad photo must not stop the rest)."""
    try:
        work(photos)
        return len(photos)
    except Exception:
        log.exception("background work on %s photo(s) failed; trying them one by one", len(photos))
        db.session.rollback()
    done = 0
    for photo in photos if len(photos) > 1 else ():
        try:
            work([photo])
            done += 1
        except Exception as exc:
            db.session.rollback()
            log.warning("photo %s: background work failed: %s", photo[0], exc)
    return done


def _precompute(photos: list) -> None:
    """Cache these photos' features for the default backbone (WEBAPP_BACKBONE) at its default cut, ahead of
    the next Train."""
    from webapp.ml.errors import MLError
    from webapp.ml.pipeline import precompute_features

    db.session.rollback()  # no transaction stays open through the slow part
    if not photos:
        return
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
            backbone_name=cfg["BACKBONE"],
        )
        # The suggestion job reads these features without loading the backbone: tell it where they are.
        from webapp.worker.suggesting import default_feature_key

        suggestions.remember_features(queue.huey(), default_feature_key())
    except MLError as exc:  # e.g. no weights yet: Train will say so clearly (and this, once)
        if _SAID.first_time(str(exc)):
            log.warning("features of new photos not computed: %s", exc)


def _unpredicted(run_id: int) -> list:
    """Up to ROUND live photos the run has not predicted yet, newest first."""
    predicted = select(Prediction.photo_id).where(
        Prediction.run_id == run_id, Prediction.photo_id == Photo.id
    )
    query = (
        select(Photo.id, Photo.sha256, Photo.format)
        .where(Photo.deleted_at.is_(None), ~predicted.exists())
        .order_by(Photo.id.desc())
        .limit(ROUND)
    )
    return list(db.session.execute(query))


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
