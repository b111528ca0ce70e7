"""Instant suggestions, as the web side sees them: what the worker suggested, accepting them, the accept rate.

A suggestion never overwrites a person's label: accepting labels unlabeled photos only. What a person did
with a suggestion is kept on its row (verdict), so the pages can say honestly how often they were right.
"""

import json
import math

from sqlalchemy import func, select, update

from webapp.db import db
from webapp.db.models import AppSetting, LabelClass, Photo, Suggestion, class_by_name
from webapp.services.errors import InvalidInput

STATE_KEY = "suggest.state"  # written by the worker's suggestion job (webapp.worker.suggesting)
DEFAULT_MIN_CONFIDENCE = 0.9
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)  # the counts the summary gives (the grid's choices)
MAX_ACCEPT = 10_000


def enqueue_refresh() -> None:
    """Labels changed: have the worker retrain the suggestions (debounced there)."""
    from webapp.queue import suggestions

    suggestions.enqueue()


def suggestions_for(photo_ids: list[int]) -> dict[int, dict]:
    """{"label", "confidence"} of these photos, by photo id."""
    if not photo_ids:
        return {}
    rows = db.session.execute(
        select(Suggestion.photo_id, Suggestion.label, Suggestion.confidence).where(
            Suggestion.photo_id.in_(photo_ids)
        )
    )
    return {pid: {"label": label, "confidence": conf} for pid, label, conf in rows}


def note_label(photo: Photo, cls: LabelClass | None) -> None:
    """Before a person's label is set: record whether it is the label the suggestion offered."""
    row = db.session.get(Suggestion, photo.id)
    if row is None:
        return
    if cls is None:  # unlabeled (or undone): the photo is open to suggestions again
        row.verdict = row.shown_label = None
        return
    if row.verdict is None:
        if photo.label_id is not None:
            return  # labeled before any suggestion was shown for it: not a verdict on one
        row.shown_label = row.label
    row.verdict = "accepted" if cls.name == row.shown_label else "changed"


def rename_in_suggestions(old: str, new: str) -> None:
    """A class was renamed: its suggestions (and what people were offered) carry the new name."""
    for column in (Suggestion.label, Suggestion.shown_label):
        db.session.execute(
            update(Suggestion).where(column == old).values({column: new}),
            execution_options={"synchronize_session": False},
        )


def check_confidence(value: object) -> float:
    """A confidence threshold from 0 to 1, or InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput("min_confidence must be a number from 0 to 1")
    if not 0 <= value <= 1:
        raise InvalidInput("min_confidence must be a number from 0 to 1")
    return float(value)


def _acceptable(min_confidence: float):
    return (
        select(Photo, Suggestion.label)
        .join(Suggestion, Suggestion.photo_id == Photo.id)
        .where(
            Photo.deleted_at.is_(None),
            Photo.label_id.is_(None),
            Suggestion.confidence >= min_confidence,
        )
    )


def summary() -> dict:
    """Where suggestions stand: the worker's last round, how many could be accepted, the accept rate."""
    confidences = db.session.scalars(
        select(Suggestion.confidence)
        .join(Photo, Photo.id == Suggestion.photo_id)
        .where(Photo.deleted_at.is_(None), Photo.label_id.is_(None))
    ).all()
    verdicts = dict(
        db.session.execute(
            select(Suggestion.verdict, func.count())
            .where(Suggestion.verdict.is_not(None))
            .group_by(Suggestion.verdict)
        ).all()
    )
    accepted, changed = verdicts.get("accepted", 0), verdicts.get("changed", 0)
    reviewed = accepted + changed
    return {
        "state": _state(),
        "unlabeled": len(confidences),
        "acceptable": {f"{t:g}": sum(c >= t for c in confidences) for t in THRESHOLDS},
        "accepted": accepted,
        "changed": changed,
        "accept_rate": accepted / reviewed if reviewed else None,
    }


def _state() -> dict:
    row = db.session.get(AppSetting, STATE_KEY)
    state = json.loads(row.value) if row else {}
    return {
        "status": state.get("status", "waiting"),
        "updated_at": state.get("updated_at"),
        "labeled": state.get("labeled"),
        "photos": state.get("photos"),
        "seconds": state.get("seconds"),
    }


def accept(min_confidence: float) -> list[dict]:
    """Give every unlabeled photo whose suggestion is at least this sure the suggested label.

    Returns what was done, [{"id", "label"}], which is what undo takes back.
    """
    from webapp.services.photos import set_label

    rows = list(db.session.execute(_acceptable(min_confidence).order_by(Photo.id).limit(MAX_ACCEPT)))
    done, classes = [], {}
    for photo, label in rows:
        cls = classes.setdefault(label, class_by_name(label))
        if cls is None:  # the class was deleted after the suggestion was made
            continue
        set_label(photo, cls)
        done.append({"id": photo.id, "label": cls.name})
    db.session.commit()
    if done:
        enqueue_refresh()
    return done


def undo(items: object) -> int:
    """Take back an accept: unlabel the photos that still have the label it gave them."""
    from webapp.services.photos import set_label

    if not isinstance(items, list) or not items or len(items) > MAX_ACCEPT:
        raise InvalidInput(f"items must be a list of 1 to {MAX_ACCEPT:,} {{id, label}} objects")
    wanted = {}
    for item in items:
        photo_id = item.get("id") if isinstance(item, dict) else None
        ok = type(photo_id) is int and 0 < photo_id < 2**63 and isinstance(item.get("label"), str)
        if not ok:
            raise InvalidInput("each item must be an object with an integer id and a label")
        wanted[photo_id] = item["label"]
    photos = db.session.scalars(select(Photo).where(Photo.id.in_(wanted)))
    undone = 0
    for photo in photos:
        if photo.label is not None and photo.label.name == wanted[photo.id]:
            set_label(photo, None)
            undone += 1
    db.session.commit()
    if undone:
        enqueue_refresh()
    return undone
