"""Predictions: a run's gallery listing, and predicting one photo through the worker."""

import logging
import threading

from flask import current_app
from huey.exceptions import HueyException, TaskException
from sqlalchemy import Select, and_, func, or_, select

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

log = logging.getLogger(__name__)
QUEUE_RETRY_AFTER = 10
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
    elif split == "unseen":  # what the model never trained on: the test photos and the unlabeled ones
        tested = and_(Photo.split == "test", Photo.label_id.is_not(None))
        query = query.where(or_(Photo.label_id.is_(None), tested))
    elif split:
        if split not in SPLITS:
            raise InvalidInput("split must be one of train, val, test, unlabeled, unseen")
        query = query.where(Photo.split == split, Photo.label_id.is_not(None))
    if args.get("below"):
        query = query.where(Prediction.confidence < _confidence(args["below"]))
    if args.get("label"):
        query = query.where(Prediction.label == args["label"])
    if args.get("true_label"):
        query = query.where(LabelClass.name == args["true_label"])
    if args.get("wrong") in ("1", "true"):
        query = query.where(Photo.label_id.is_not(None), LabelClass.name != Prediction.label)
    return query


def _confidence(text: str) -> float:
    """The `below` filter: a confidence between 0 and 1 (1 keeps every guess)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise InvalidInput("below must be a confidence between 0 and 1 (e.g. 0.75)")
    return value + 1e-9 if value == 1 else value


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
    release_database()
    # Waiting holds one of the web server's few threads: only some may wait at once, the rest of them stay
    # free for pages; over that, answer at once and let the client try again.
    slots = _predict_slots()
    if not slots.acquire(blocking=False):
        raise Unavailable("The worker is busy with other predictions; try again in a moment", retry_after=2)
    try:
        return _wait_for(_enqueue(image), current_app.config["PREDICT_TIMEOUT"])
    finally:
        slots.release()


def _predict_slots() -> threading.BoundedSemaphore:
    slots = current_app.extensions.get("webapp_predict_slots")
    if slots is None:
        wanted = threading.BoundedSemaphore(current_app.config["PREDICT_CONCURRENCY"])
        slots = current_app.extensions.setdefault("webapp_predict_slots", wanted)
    return slots


def _enqueue(image):
    try:
        return queue.job("predict_image")(image)
    except Exception as exc:  # Redis down or unreachable: the socket timeouts bound how long this takes
        log.warning("could not queue a prediction: %s", exc)
        raise Unavailable(
            f"The job queue is not available, so nothing can predict: {exc}", retry_after=QUEUE_RETRY_AFTER
        ) from None


def release_database() -> None:
    """End the request's transaction before waiting on the worker (an open SQLite write lock stalls it)."""
    db.session.commit()


def _wait_for(result, timeout: int) -> dict:
    try:
        answer = result.get(blocking=True, timeout=timeout)
    except TaskException as exc:
        raise Failed(f"The worker could not predict this photo: {exc.metadata.get('error')}") from None
    except HueyException:
        _revoke(result)
        raise Unavailable(
            f"The worker did not answer within {timeout} s (it may be busy training); try again in a moment",
            retry_after=timeout,
        ) from None
    except Exception as exc:  # the queue went away while waiting
        log.warning("lost the job queue while waiting for a prediction: %s", exc)
        message = f"The job queue stopped answering, so the prediction was lost: {exc}"
        raise Unavailable(message, retry_after=QUEUE_RETRY_AFTER) from None
    if "error" in answer:
        raise Conflict(answer["error"])
    return answer


def _revoke(result) -> None:
    try:
        result.revoke()  # a late worker will not do the work nobody waits for
    except Exception:  # best effort: the queue may be down
        log.warning("could not revoke a prediction nobody waits for")
