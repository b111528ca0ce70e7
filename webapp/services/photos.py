"""Photos: label, move between splits, trash, restore and empty the trash."""

from sqlalchemy import delete, select, update

from webapp.db import db
from webapp.db.models import SPLITS, LabelClass, Photo, class_by_name, utcnow
from webapp.photostore import storage
from webapp.services import instance_path, store_settings
from webapp.services.errors import Conflict, InvalidInput, NotFound
from webapp.services.feature_files import remove_features
from webapp.services.groups import group_size, group_split, move_group
from webapp.services.splits import assign_split
from webapp.services.suggestions import enqueue_refresh, note_label

MAX_PER_PAGE = 200


def get_photo(photo_id: int, include_deleted: bool = True) -> Photo:
    """The photo with this id, or a 404 ServiceError."""
    photo = db.session.get(Photo, photo_id)
    if photo is None or (photo.deleted_at is not None and not include_deleted):
        raise NotFound(f"There is no photo {photo_id}")
    return photo


def set_label(photo: Photo, cls: LabelClass | None) -> None:
    """Label (or unlabel) a photo; a newly labeled photo gets its stable split (its group's, if any)."""
    if (cls.id if cls else None) != photo.label_id:
        note_label(photo, cls)
    photo.label = cls
    photo.label_id = cls.id if cls else None
    photo.labeled_at = utcnow() if cls else None
    if cls is not None and photo.split is None:
        db.session.flush()
        photo.split = group_split(photo.group_id) or assign_split(cls.id, group_size(photo))


def resolve_label(value: object) -> LabelClass | None:
    """The class named by an API label value (None unlabels), or a ServiceError."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput("label must be a class name or null")
    cls = class_by_name(value)
    if cls is None:
        raise InvalidInput(f'There is no class named "{value}"')
    return cls


def check_split(value: object) -> str:
    """A valid split name, or a ServiceError."""
    if value not in SPLITS:
        raise InvalidInput("split must be one of train, val, test")
    return str(value)


def update_photo(photo_id: int, changes: dict) -> Photo:
    """Apply a PATCH: label and/or split."""
    unknown = set(changes) - {"label", "split"}
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(sorted(unknown))}")
    photo = get_photo(photo_id, include_deleted=False)
    split = check_split(changes["split"]) if "split" in changes else None
    if "label" in changes:
        set_label(photo, resolve_label(changes["label"]))
    if split is not None:
        move_group(photo, split)
    db.session.commit()
    if "label" in changes:
        enqueue_refresh()
    return photo


def bulk_update(ids: object, changes: dict) -> int:
    """Label, move, delete or restore many photos in one transaction."""
    valid = isinstance(ids, list) and all(isinstance(i, int) and 0 < i < 2**63 for i in ids)
    if not valid or not ids or len(ids) > 10_000:
        raise InvalidInput("ids must be a list of 1 to 10,000 photo ids")
    photos = list(db.session.scalars(select(Photo).where(Photo.id.in_(ids)).order_by(Photo.id)))
    action = changes.get("action")
    if action not in (None, "delete", "restore"):
        raise InvalidInput("action must be delete or restore")
    cls = resolve_label(changes["label"]) if "label" in changes else None
    split = check_split(changes["split"]) if "split" in changes else None
    for photo in photos:
        _apply_bulk(photo, changes, action, cls, split)
    db.session.commit()
    if "label" in changes or action:
        enqueue_refresh()
    return len(photos)


def _apply_bulk(photo: Photo, changes: dict, action, cls, split) -> None:
    if action == "delete":
        photo.deleted_at = photo.deleted_at or utcnow()
    elif action == "restore":
        photo.deleted_at = None
    if "label" in changes and photo.deleted_at is None:
        set_label(photo, cls)
    if split is not None:
        move_group(photo, split)


def trash_photo(photo_id: int) -> Photo:
    """Move a photo to the trash (restorable until the trash is emptied)."""
    photo = get_photo(photo_id, include_deleted=False)
    photo.deleted_at = utcnow()
    db.session.commit()
    return photo


def restore_photo(photo_id: int) -> Photo:
    """Bring a photo back from the trash (NotFound when the trash was emptied first)."""
    get_photo(photo_id)
    # One UPDATE, no read-then-write: emptying the trash locks the rows it deletes, so this waits and then
    # finds the row gone, or runs first and takes the photo out of the trash before it is emptied.
    result = db.session.execute(
        update(Photo)
        .where(Photo.id == photo_id)
        .values(deleted_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:
        raise NotFound(f"There is no photo {photo_id}: the trash was emptied")
    return get_photo(photo_id)


def empty_trash() -> int:
    """Delete trashed photos for good, with their files and cached features (refused during a run)."""
    from webapp.db.models import run_in_progress

    if run_in_progress() is not None:
        raise Conflict("A training run is using the photos; empty the trash when it has finished")
    # Locked rows (FOR UPDATE; SQLite's writer lock does the same): a restore now waits for this
    # transaction, and a restore committed before the read is not in the list.
    query = select(Photo.id, Photo.sha256, Photo.format).where(Photo.deleted_at.is_not(None))
    photos = list(db.session.execute(query.with_for_update()))
    settings, features = store_settings(), instance_path() / "features"
    for _id, sha, fmt in photos:
        # Files go while this transaction holds the lock, so a re-upload of the same photo cannot slip
        # between the row's deletion and the files'.
        storage.remove_photo_files(settings, sha, fmt)
        remove_features(features, sha)
    ids = [photo_id for photo_id, _sha, _fmt in photos]
    for start in range(0, len(ids), 500):
        db.session.execute(
            delete(Photo).where(Photo.id.in_(ids[start : start + 500])),
            execution_options={"synchronize_session": False},
        )
    db.session.commit()
    return len(ids)
