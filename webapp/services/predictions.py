"""Predictions: a run's gallery listing, and predicting one photo through the worker."""

from flask import current_app
from huey.exceptions import HueyException, TaskException
from sqlalchemy import Select, func, select

from webapp import queue
from webapp.db import db
from webapp.db.models import SPLITS, LabelClass, Photo, Prediction, TrainingRun
from webapp.photostore import storage
from webapp.photostore.imaging import RejectedPhoto
from webapp.queue.heartbeat import worker_status
from webapp.services import store_settings
from webapp.services.errors import Conflict, Failed, InvalidInput, TooLarge, Unavailable
from webapp.services.ingest import too_large_message
from webapp.services.photo_queries import page_args

SORTS = {
    "confidence": (Prediction.confidence, Photo.id),
    "-confidence": (Prediction.confidence.desc(), Photo.id),
    "newest": (Photo.id.desc(),),
}


def _filtered(run: TrainingRun, args) -> Select:
    query = (
        select(Prediction, Photo, LabelClass.name)
        .join(Photo, Photo.id == Prediction.photo_id)
        .outerjoin(LabelClass, LabelClass.id == Photo.label_id)
        .where(Prediction.run_id == run.id, Photo.deleted_at.is_(None))
    )
    split = args.get("split")
    if split == "unlabeled" or args.get("unlabeled") in ("1", "true"):
        query = query.where(Photo.label_id.is_(None))
    elif split:
        if split not in SPLITS:
            raise InvalidInput("split must be one of train, val, test, unlabeled")
        query = query.where(Photo.split == split, Photo.label_id.is_not(None))
    if args.get("label"):
        query = query.where(Prediction.label == args["label"])
    if args.get("true_label"):
        query = query.where(LabelClass.name == args["true_label"])
    if args.get("wrong") in ("1", "true"):
        query = query.where(Photo.label_id.is_not(None), LabelClass.name != Prediction.label)
    return query


def _sorted(query: Select, sort: str) -> Select:
    if sort == "wrong_confident":
        return query.order_by(
            (LabelClass.name == Prediction.label) | LabelClass.name.is_(None),
            Prediction.confidence.desc(),
            Photo.id,
        )
    if sort not in SORTS:
        raise InvalidInput("sort must be one of confidence, -confidence, wrong_confident, newest")
    return query.order_by(*SORTS[sort])


def list_predictions(run: TrainingRun, args) -> dict:
    """One page of a run's predictions with filters (split, label, true_label, wrong) and a sort."""
    page, per_page = page_args(args)
    query = _filtered(run, args)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.session.execute(
        _sorted(query, args.get("sort") or "confidence").limit(per_page).offset((page - 1) * per_page)
    )
    return {
        "predictions": list(rows),
        "total": total,
        "page": page,
        "per_page": per_page,
        "run_id": run.id,
    }


def predict_upload(data: bytes) -> dict:
    """Send one photo (decoded here, without TensorFlow) to the worker and wait for its prediction."""
    settings = store_settings()
    if len(data) > settings.max_bytes:
        raise TooLarge(too_large_message(len(data), settings.max_bytes))
    try:
        image = storage.model_input_from_bytes(data, settings)
    except RejectedPhoto as exc:
        raise InvalidInput(exc.message) from None
    if worker_status() != "ok":
        raise Unavailable(
            "No worker is running, so nothing can predict: start the app with "
            "`python -m webapp` (or a worker with `python -m webapp worker`)"
        )
    return _wait_for(queue.job("predict_image")(image), current_app.config["PREDICT_TIMEOUT"])


def release_database() -> None:
    """End the request's transaction before waiting on the worker (an open SQLite write lock stalls it)."""
    db.session.commit()


def _wait_for(result, timeout: int) -> dict:
    release_database()
    try:
        answer = result.get(blocking=True, timeout=timeout)
    except TaskException as exc:
        raise Failed(f"The worker could not predict this photo: {exc.metadata.get('error')}") from None
    except HueyException:
        result.revoke()
        raise Unavailable(
            f"The worker did not answer within {timeout} s (it may be busy training); try again in a moment"
        ) from None
    if "error" in answer:
        raise Conflict(answer["error"])
    return answer
