"""Photos: ingest uploads, list with filters, label, move between splits, trash and restore."""

import os
from datetime import datetime

from flask import url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .. import storage
from ..extensions import db
from ..imaging import RejectedPhoto
from ..models import SPLITS, LabelClass, Photo, class_by_name, iso, utcnow
from . import ServiceError, store_settings
from .splits import assign_split

MAX_PER_PAGE = 200


def display_name(filename: str | None) -> str:
    """The upload's name for showing only (never used on disk): last path part, trimmed."""
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    return name[:255] or "photo"


def _result(filename: str, status: str, photo: Photo | None = None, error: str | None = None) -> dict:
    return {
        "filename": filename,
        "status": status,
        "photo": photo_to_dict(photo) if photo else None,
        "error": error,
        "duplicate_of": photo.id if photo and status == "duplicate" else None,
    }


def ingest(data: bytes, filename: str | None, label: str | None = None, split: str | None = None) -> dict:
    """Validate and store one photo; the result says stored, duplicate (of which photo) or rejected (why)."""
    name = display_name(filename)
    settings = store_settings()
    if len(data) > settings.max_bytes:
        return _result(name, "rejected", error=too_large_message(len(data), settings.max_bytes))
    label_error = _label_problem(label)
    if label_error:
        return _result(name, "rejected", error=label_error)
    existing = db.session.scalar(select(Photo).where(Photo.sha256 == storage.sha256_of(data)))
    if existing is not None:
        return _duplicate(existing, name, label, split)
    db.session.rollback()  # decoding and writing files is slow: hold no database lock meanwhile
    try:
        stored = storage.store_photo(data, settings)
    except RejectedPhoto as exc:
        return _result(name, "rejected", error=exc.message)
    photo = Photo(
        sha256=stored.sha256,
        filename=name,
        format=stored.format,
        width=stored.width,
        height=stored.height,
        size_bytes=stored.size_bytes,
    )
    db.session.add(photo)
    try:
        db.session.flush()
    except IntegrityError:  # the same photo arrived in a parallel request
        db.session.rollback()
        return _duplicate(
            db.session.scalar(select(Photo).where(Photo.sha256 == stored.sha256)), name, label, split
        )
    _apply_initial_label(photo, label, split)
    db.session.commit()
    return _result(name, "stored", photo)


def _label_problem(label: str | None) -> str | None:
    """Why a label (a folder name, say) cannot become a class, checked before anything is stored."""
    if not label or class_by_name(label) is not None:
        return None
    from .classes import clean_name

    try:
        clean_name(label)
    except ServiceError as exc:
        return f'"{label[:80]}" cannot be a class name: {exc.message}'
    return None


def _duplicate(photo: Photo, name: str, label: str | None, split: str | None) -> dict:
    if photo.deleted_at is not None:  # uploading a trashed photo again brings it back
        photo.deleted_at = None
    if label and photo.label_id is None:
        _apply_initial_label(photo, label, split)
    db.session.commit()
    return _result(name, "duplicate", photo, error=None)


def _apply_initial_label(photo: Photo, label: str | None, split: str | None) -> None:
    if split is not None and split in SPLITS:
        photo.split = split
    if label:
        cls = class_by_name(label) or _new_class(label)
        set_label(photo, cls)


def _new_class(name: str) -> LabelClass:
    from .classes import create_class

    return create_class(name)


def too_large_message(size: int, limit: int) -> str:
    """Plain words for a file over the per-photo size limit."""
    return storage.too_large_message(size, limit)


def get_photo(photo_id: int, include_deleted: bool = True) -> Photo:
    """The photo with this id, or a 404 ServiceError."""
    photo = db.session.get(Photo, photo_id)
    if photo is None or (photo.deleted_at is not None and not include_deleted):
        raise ServiceError(f"There is no photo {photo_id}", 404)
    return photo


def set_label(photo: Photo, cls: LabelClass | None) -> None:
    """Label (or unlabel) a photo; a newly labeled photo gets its stable split."""
    photo.label = cls
    photo.label_id = cls.id if cls else None
    photo.labeled_at = utcnow() if cls else None
    if cls is not None and photo.split is None:
        db.session.flush()
        photo.split = assign_split(cls.id)


def resolve_label(value: object) -> LabelClass | None:
    """The class named by an API label value (None unlabels), or a ServiceError."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ServiceError("label must be a class name or null")
    cls = class_by_name(value)
    if cls is None:
        raise ServiceError(f'There is no class named "{value}"')
    return cls


def check_split(value: object) -> str:
    """A valid split name, or a ServiceError."""
    if value not in SPLITS:
        raise ServiceError("split must be one of train, val, test")
    return str(value)


def update_photo(photo_id: int, changes: dict) -> Photo:
    """Apply a PATCH: label and/or split."""
    unknown = set(changes) - {"label", "split"}
    if unknown:
        raise ServiceError(f"Unknown field(s): {', '.join(sorted(unknown))}")
    photo = get_photo(photo_id, include_deleted=False)
    split = check_split(changes["split"]) if "split" in changes else None
    if "label" in changes:
        set_label(photo, resolve_label(changes["label"]))
    if split is not None:
        photo.split = split
    db.session.commit()
    return photo


def bulk_update(ids: object, changes: dict) -> int:
    """Label, move, delete or restore many photos in one transaction."""
    valid = isinstance(ids, list) and all(isinstance(i, int) and 0 < i < 2**63 for i in ids)
    if not valid or not ids or len(ids) > 10_000:
        raise ServiceError("ids must be a list of 1 to 10,000 photo ids")
    photos = list(db.session.scalars(select(Photo).where(Photo.id.in_(ids)).order_by(Photo.id)))
    action = changes.get("action")
    if action not in (None, "delete", "restore"):
        raise ServiceError("action must be delete or restore")
    cls = resolve_label(changes["label"]) if "label" in changes else None
    split = check_split(changes["split"]) if "split" in changes else None
    for photo in photos:
        _apply_bulk(photo, changes, action, cls, split)
    db.session.commit()
    return len(photos)


def _apply_bulk(photo: Photo, changes: dict, action, cls, split) -> None:
    if action == "delete":
        photo.deleted_at = photo.deleted_at or utcnow()
    elif action == "restore":
        photo.deleted_at = None
    if "label" in changes and photo.deleted_at is None:
        set_label(photo, cls)
    if split is not None:
        photo.split = split


def trash_photo(photo_id: int) -> Photo:
    """Move a photo to the trash (restorable until the trash is emptied)."""
    photo = get_photo(photo_id, include_deleted=False)
    photo.deleted_at = utcnow()
    db.session.commit()
    return photo


def restore_photo(photo_id: int) -> Photo:
    """Bring a photo back from the trash."""
    photo = get_photo(photo_id)
    photo.deleted_at = None
    db.session.commit()
    return photo


def empty_trash() -> int:
    """Delete trashed photos for good (refused while a run may still read them)."""
    from ..models import run_in_progress

    if run_in_progress() is not None:
        raise ServiceError("A training run is using the photos; empty the trash when it has finished", 409)
    photos = list(db.session.scalars(select(Photo).where(Photo.deleted_at.is_not(None))))
    settings = store_settings()
    for photo in photos:
        # Files go while this transaction holds the lock, so a re-upload of the same photo cannot slip
        # between the row's deletion and the files'.
        storage.remove_photo_files(settings, photo.sha256, photo.format)
        db.session.delete(photo)
    db.session.commit()
    return len(photos)


def photo_to_dict(photo: Photo, prediction: dict | None = None) -> dict:
    """The API shape of a photo."""
    return {
        "id": photo.id,
        "sha256": photo.sha256,
        "filename": photo.filename,
        "width": photo.width,
        "height": photo.height,
        "label": photo.label.name if photo.label else None,
        "split": photo.split,
        "thumbnail_url": url_for("media.thumbnail", sha=photo.sha256),
        "display_url": url_for("media.display", sha=photo.sha256),
        "created_at": iso(photo.created_at),
        "deleted": photo.deleted_at is not None,
        "prediction": prediction,
    }


def count_unlabeled() -> int:
    """Photos outside the trash without a label."""
    return db.session.scalar(
        select(func.count()).select_from(Photo).where(Photo.deleted_at.is_(None), Photo.label_id.is_(None))
    )


def newest_first(query):
    """Order a photo query newest first (ids are assigned as photos are stored)."""
    return query.order_by(Photo.id.desc())


def parse_date(value: datetime | None) -> str | None:
    """ISO text for an optional datetime."""
    return iso(value)
