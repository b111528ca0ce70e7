"""Photo listings: filters, ordering, paging, and the active model's prediction beside each photo."""

import math
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from webapp.db import db
from webapp.db.models import SPLITS, Photo, Prediction, Suggestion, active_run, active_run_id, class_by_name
from webapp.services.errors import InvalidInput
from webapp.services.photos import MAX_PER_PAGE
from webapp.services.suggestions import suggestions_for

ORDERS = ("newest", "oldest", "uncertain", "confident")
CONFIDENCE_ORDERS = ("uncertain", "confident")
FLAGS = {"": False, "0": False, "false": False, "1": True, "true": True}
MAX_PAGE = 10**7
MAX_ID = 2**63 - 1
IDS_PER_PAGE = 1000
MAX_IDS_PER_PAGE = 5000


@dataclass
class PhotoFilter:
    """What a listing asks for, parsed from query arguments."""

    label: str | None = None
    split: str | None = None
    unlabeled: bool = False
    trash: bool = False
    order: str = "newest"
    group: int | None = None  # only this near-duplicate group

    @classmethod
    def from_args(cls, args) -> "PhotoFilter":
        """Parse and check request.args."""
        flt = cls(
            label=args.get("label") or None,
            split=args.get("split") or None,
            unlabeled=flag_arg(args, "unlabeled"),
            trash=flag_arg(args, "trash"),
            order=args.get("order") or "newest",
            group=int_arg(args, "group", 0, 1, MAX_ID) or None,
        )
        if flt.split is not None and flt.split not in SPLITS:
            raise InvalidInput("split must be one of train, val, test")
        if flt.order not in ORDERS:
            raise InvalidInput(f"order must be one of {', '.join(ORDERS)}")
        return flt


def page_args(args, default_per_page: int = 50) -> tuple[int, int]:
    """page (from 1) and per_page (1..200) from query arguments."""
    return int_arg(args, "page", 1, 1, MAX_PAGE), int_arg(args, "per_page", default_per_page, 1, MAX_PER_PAGE)


def flag_arg(args, name: str) -> bool:
    """A yes/no query argument: 1/true or 0/false (or absent); anything else is refused with its name."""
    value = args.get(name, "").strip().lower()
    if value not in FLAGS:
        raise InvalidInput(f"{name} must be 1 or 0 (true or false), not {args.get(name)!r:.40}")
    return FLAGS[value]


def int_arg(args, name: str, default: int, low: int, high: int) -> int:
    """A whole-number query argument between low and high, or its default when absent."""
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    valid = raw.isascii() and raw.isdigit() and len(raw) <= len(str(high))
    if not valid or not low <= int(raw) <= high:
        raise InvalidInput(f"{name} must be a whole number from {low:,} to {high:,}, not {raw!r:.40}")
    return int(raw)


def filtered(flt: PhotoFilter) -> Select:
    """A SELECT of photo ids-and-rows matching the filter, ordered."""
    return _ordered(_matching(flt), flt.order)


def _matching(flt: PhotoFilter) -> Select:
    query = select(Photo).where(Photo.deleted_at.is_not(None) if flt.trash else Photo.deleted_at.is_(None))
    if flt.label:
        cls = class_by_name(flt.label)
        if cls is None:
            raise InvalidInput(f'There is no class named "{flt.label}"')
        query = query.where(Photo.label_id == cls.id)
    if flt.unlabeled:
        query = query.where(Photo.label_id.is_(None))
    if flt.split:
        query = query.where(Photo.split == flt.split)
    if flt.group:
        query = query.where(Photo.group_id == flt.group)
    return query


def _ordered(query: Select, order: str) -> Select:
    if order == "oldest":
        return query.order_by(Photo.id)
    joined = _with_confidence(query) if order in CONFIDENCE_ORDERS else None
    if joined is not None:
        query, conf = joined
        # Photos without a suggestion or prediction yet come last, then by id.
        return query.order_by(conf.is_(None), conf.desc() if order == "confident" else conf, Photo.id)
    return query.order_by(Photo.id.desc())


def _with_confidence(query: Select):
    """(query joined to the confidences, their expression): the instant suggestion's, else the active
    model's prediction's; None when there are neither."""
    run_id = active_run_id()
    has_suggestions = db.session.scalar(select(Suggestion.photo_id).limit(1)) is not None
    if run_id is None and not has_suggestions:
        return None
    query = query.outerjoin(Suggestion, Suggestion.photo_id == Photo.id)
    if run_id is None:
        return query, Suggestion.confidence
    query = query.outerjoin(Prediction, (Prediction.photo_id == Photo.id) & (Prediction.run_id == run_id))
    return query, func.coalesce(Suggestion.confidence, Prediction.confidence)


def list_page(flt: PhotoFilter, page: int, per_page: int) -> dict:
    """One page of photos with the total and the active model's predictions."""
    query = filtered(flt)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    photos = list(
        db.session.scalars(
            query.options(selectinload(Photo.label)).limit(per_page).offset((page - 1) * per_page)
        )
    )
    ids = [p.id for p in photos]
    preds, suggested = predictions_for(ids), suggestions_for(ids)
    return {
        "photos": [(p, preds.get(p.id), suggested.get(p.id)) for p in photos],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def list_ids(flt: PhotoFilter, after: str | None = None, limit: int = IDS_PER_PAGE) -> dict:
    """Up to limit matching ids in the listing's order, after a cursor; `next` continues (None at the end).

    A cursor, not an offset: photos that leave the filter meanwhile (labeled while walking the unlabeled
    ones) must not make the walk skip others.
    """
    matching = _matching(flt)
    total = db.session.scalar(select(func.count()).select_from(matching.subquery()))
    joined = _with_confidence(matching) if flt.order in CONFIDENCE_ORDERS else None
    if joined is None:
        rows = _ids_by_id(matching, flt.order == "oldest", after, limit)
        cursor = str(rows[limit - 1][0]) if len(rows) > limit else None
    else:
        rows = _ids_by_confidence(*joined, flt.order == "confident", after, limit)
        cursor = _confidence_cursor(*rows[limit - 1]) if len(rows) > limit else None
    return {"ids": [row[0] for row in rows[:limit]], "total": total, "next": cursor, "limit": limit}


def ids_limit(args) -> int:
    """The limit query argument of the ids listing (1..MAX_IDS_PER_PAGE)."""
    return int_arg(args, "limit", current_app.config.get("IDS_PER_PAGE", IDS_PER_PAGE), 1, MAX_IDS_PER_PAGE)


def _ids_by_id(matching: Select, ascending: bool, after: str | None, limit: int) -> list:
    query = matching.with_only_columns(Photo.id).order_by(Photo.id if ascending else Photo.id.desc())
    if after is not None:
        last = _cursor_parts(after)[1]
        query = query.where(Photo.id > last if ascending else Photo.id < last)
    return list(db.session.execute(query.limit(limit + 1)))


def _ids_by_confidence(joined: Select, conf, descending: bool, after: str | None, limit: int) -> list:
    # Least (or most) confident first, photos without a confidence last, then by id.
    query = joined.with_only_columns(Photo.id, conf).order_by(
        conf.is_(None), conf.desc() if descending else conf, Photo.id
    )
    if after is not None:
        value, last = _cursor_parts(after)
        if value is None:
            query = query.where(conf.is_(None), Photo.id > last)
        else:
            beyond = conf < value if descending else conf > value
            later = beyond | ((conf == value) & (Photo.id > last))
            query = query.where(conf.is_(None) | later)
    return list(db.session.execute(query.limit(limit + 1)))


def _confidence_cursor(photo_id: int, confidence: float | None) -> str:
    return f"{'none' if confidence is None else repr(confidence)}:{photo_id}"


def _cursor_parts(cursor: str) -> tuple[float | None, int]:
    """(confidence or None, photo id) from "<id>" or "<confidence|none>:<id>"."""
    conf_text, _, id_text = cursor.rpartition(":")
    try:
        photo_id = int(id_text)
        conf = None if conf_text in ("", "none") else float(conf_text)
    except ValueError:
        raise InvalidInput("after must be the `next` value of the previous page") from None
    if conf is not None and not math.isfinite(conf):
        raise InvalidInput("after must be the `next` value of the previous page")
    return conf, photo_id


def predictions_for(photo_ids: list[int]) -> dict[int, dict]:
    """The active model's predictions for these photos, by photo id."""
    run = active_run()
    if run is None or not photo_ids:
        return {}
    rows = db.session.scalars(
        select(Prediction).where(Prediction.run_id == run.id, Prediction.photo_id.in_(photo_ids))
    )
    return {
        p.photo_id: {
            "label": p.label,
            "confidence": p.confidence,
            "probabilities": p.probabilities,
            "run_id": p.run_id,
        }
        for p in rows
    }
