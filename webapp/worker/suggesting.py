"""The suggestion job: retrain the small head on the labels as they are now, suggest a label for each photo.

Only photos whose frozen-backbone features are already cached take part (process_new_photos caches them as
photos arrive and queues a round when it has): the job never runs the backbone, so it takes about a second
and never holds a worker slot that a training run needs.
"""

import json
import logging
import threading
import time

from flask import current_app
from sqlalchemy import delete, select

from webapp import queue
from webapp.db import db
from webapp.db.models import AppSetting, LabelClass, Photo, Suggestion, utcnow
from webapp.logs import Once
from webapp.queue import suggestions as coordination
from webapp.worker.paths import instance_path

log = logging.getLogger(__name__)
_SAID = Once()
STATE_KEY = "suggest.state"


WATCH_SECONDS = 0.25


def suggest_job(note: bool = True) -> dict:
    """One debounced round (webapp.queue.suggestions); {"skipped": True} when another round is working or
    a watcher has done it already."""
    queue_huey = queue.huey()
    if not coordination.begin(queue_huey, note=note):
        return {"skipped": True}
    try:
        coordination.settle(queue_huey)
        return refresh_suggestions()
    finally:
        db.session.rollback()
        coordination.end(queue_huey)


def refresh_suggestions() -> dict:
    """Retrain the head and store a suggestion for every photo with cached features."""
    from webapp.ml.errors import MLError

    started = time.time()
    rows = _live_photos()
    db.session.rollback()  # nothing stays locked while features are read
    try:
        x, kept = _features(rows)
    except MLError as exc:  # e.g. no backbone weights yet: Train says so clearly (and this, once)
        if _SAID.first_time(str(exc)):
            log.warning("no suggestions: %s", exc)
        return _finish({"status": "no_features", "error": str(exc)}, started)
    names = sorted({label for _i, _s, label in kept if label})
    labeled = [i for i, (_id, _sha, label) in enumerate(kept) if label]
    guess = _guess(x, labeled, [names.index(kept[i][2]) for i in labeled])
    if guess is None:
        _clear()
        return _finish({"status": "waiting", "labeled": len(labeled), "photos": len(kept)}, started)
    _store([r[0] for r in kept], [names[i] for i in guess[0]], guess[1])
    return _finish({"status": "ready", "labeled": len(labeled), "photos": len(kept)}, started)


def _live_photos() -> list[tuple[int, str, str | None]]:
    query = (
        select(Photo.id, Photo.sha256, LabelClass.name)
        .outerjoin(LabelClass, Photo.label_id == LabelClass.id)
        .where(Photo.deleted_at.is_(None))
        .order_by(Photo.id)
    )
    return [tuple(row) for row in db.session.execute(query)]


def _features(rows: list) -> tuple:
    """(pooled features, the rows that have them)."""
    from webapp.ml.features import FeatureCache
    from webapp.ml.suggest import POOLED

    x, missing = POOLED.many(FeatureCache(instance_path() / "features", _feature_key()), [r[1] for r in rows])
    gone = set(missing)
    return x, [row for row in rows if row[1] not in gone]


def _feature_key() -> str:
    """Where the default backbone's features are: as the new-photos job recorded it (no TensorFlow needed:
    the job must not load a backbone beside a busy worker), else worked out once here."""
    queue_huey = queue.huey()
    key = coordination.feature_key(queue_huey)
    if key is None:
        key = default_feature_key()
        coordination.remember_features(queue_huey, key)
    return key


def default_feature_key() -> str:
    """The feature cache folder of the configured backbone at its default cut (loads the backbone)."""
    from webapp.ml.suggest import default_cache

    cfg = current_app.config
    cache = default_cache(
        cfg["BACKBONE_WEIGHTS"], cfg["IMAGE_SIZE"], instance_path() / "backbone",
        instance_path() / "features", cfg["BACKBONE"],
    )  # fmt: skip
    return cache.dir.name


def _guess(x, labeled: list[int], labels: list[int]):
    from webapp.ml.suggest import suggest

    if x is None or not labeled:
        return None
    return suggest(x, labeled, labels)


def _store(photo_ids: list[int], labels: list[str], confidences) -> None:
    existing = {s.photo_id: s for s in db.session.scalars(select(Suggestion))}
    now, live = utcnow(), set(photo_ids)
    for photo_id, label, confidence in zip(photo_ids, labels, confidences, strict=True):
        row = existing.get(photo_id)
        if row is None:
            row = Suggestion(photo_id=photo_id)
            db.session.add(row)
        row.label, row.confidence, row.updated_at = label, float(confidence), now
    for photo_id, row in existing.items():
        if photo_id not in live and row.verdict is None:
            db.session.delete(row)
    # A photo emptied from the trash meanwhile would fail the whole write: keep only rows of photos there.
    there = set(db.session.scalars(select(Photo.id).where(Photo.id.in_(photo_ids))))
    for row in [r for r in db.session.new if isinstance(r, Suggestion) and r.photo_id not in there]:
        db.session.expunge(row)
    db.session.commit()


def _clear() -> None:
    """Too few labels: no suggestions (what people did with earlier ones stays for the accept rate)."""
    db.session.execute(delete(Suggestion).where(Suggestion.verdict.is_(None)))
    db.session.commit()


def _finish(state: dict, started: float) -> dict:
    state = {**state, "updated_at": time.time(), "seconds": round(time.time() - started, 3)}
    row = db.session.get(AppSetting, STATE_KEY) or AppSetting(key=STATE_KEY)
    row.value = json.dumps(state)
    db.session.add(row)
    db.session.commit()
    return state


def start_watch(app) -> None:
    """In each worker process: start rounds as soon as labels change (see webapp.queue.suggestions)."""
    threading.Thread(target=_watch, args=(app,), daemon=True, name="suggestion-watch").start()


def _watch(app) -> None:
    while True:
        time.sleep(WATCH_SECONDS)
        with app.app_context():
            try:
                if coordination.pending(queue.huey()):
                    suggest_job(note=False)
            except Exception:  # a busy queue or database: the queued job does the round instead
                log.exception("suggestion round failed")
            finally:
                db.session.remove()
