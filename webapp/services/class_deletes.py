"""Deleting a class (its photos become unlabeled, the other keys close up) and restoring a deleted one."""

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.db import db
from webapp.db.models import DeletedClass, LabelClass, Photo, class_by_name, iso
from webapp.services.errors import Conflict, NotFound
from webapp.services.suggestions import enqueue_refresh

KEEP_DELETED = 20  # the newest deleted classes that can still be restored


def delete_class(class_id: int, force: bool = False) -> dict:
    """Delete a class; its photos become unlabeled and the other classes' keys close the gap.

    Without force, refuse when photos would be affected. What a restore needs is kept (DeletedClass)."""
    cls = db.session.get(LabelClass, class_id)
    if cls is None:
        raise NotFound(f"There is no class {class_id}")
    photos = list(db.session.scalars(select(Photo).where(Photo.label_id == cls.id).order_by(Photo.id)))
    if photos and not force:
        raise Conflict(
            f'"{cls.name}" labels {len(photos)} photo(s); they would become unlabeled. '
            "Confirm to delete it anyway.",
            count=len(photos),
        )
    kept = DeletedClass(
        name=cls.name, color=cls.color, key=cls.key, photos=[[p.id, iso(p.labeled_at)] for p in photos]
    )
    db.session.add(kept)
    for photo in photos:
        photo.label_id = None
        photo.labeled_at = None
    db.session.delete(cls)
    db.session.flush()
    keys = renumber_keys()
    _prune()
    db.session.commit()
    enqueue_refresh()  # the suggestions must stop offering the deleted class
    return {"deleted": class_id, "unlabeled": len(photos), "restore_id": kept.id, "keys": keys}


def renumber_keys() -> dict[str, int]:
    """Keys 1, 2, 3... for the classes that have keys, in their present order; {name: new key} of moved."""
    moved = {}
    keyed = db.session.scalars(select(LabelClass).where(LabelClass.key.is_not(None)).order_by(LabelClass.key))
    for new_key, cls in enumerate(list(keyed), start=1):
        if cls.key != new_key:
            cls.key = new_key
            moved[cls.name] = new_key
            db.session.flush()  # one row at a time, downwards: the unique keys never clash on the way
    return moved


def _prune() -> None:
    for row in list_deleted()[KEEP_DELETED:]:
        db.session.delete(row)


def deleted_to_dict(row: DeletedClass) -> dict:
    """The API shape of a deleted class."""
    return {
        "id": row.id,
        "name": row.name,
        "color": row.color,
        "key": row.key,
        "photos": len(row.photos or []),
        "deleted_at": iso(row.deleted_at),
    }


def list_deleted() -> list[DeletedClass]:
    """The deleted classes that can be restored, newest first."""
    newest_first = select(DeletedClass).order_by(DeletedClass.deleted_at.desc(), DeletedClass.id.desc())
    return list(db.session.scalars(newest_first))


def restore_class(deleted_id: int) -> dict:
    """Bring a deleted class back with its name, colour and key, and label its photos again.

    Photos labeled otherwise since, or deleted for good, are left as they are (counted as skipped)."""
    row = db.session.get(DeletedClass, deleted_id)
    if row is None:
        raise NotFound(f"There is no deleted class {deleted_id} (only the last {KEEP_DELETED} are kept)")
    clash = class_by_name(row.name)
    if clash is not None:
        raise Conflict(f'"{row.name}" cannot come back while a class is "{clash.name}": rename that first')
    cls = LabelClass(name=row.name, color=row.color, key=_restored_key(row.key))
    db.session.add(cls)
    db.session.flush()
    restored, name, total = _relabel(cls, row.photos or []), row.name, len(row.photos or [])
    db.session.delete(row)
    try:
        db.session.commit()
    except IntegrityError:  # a parallel request restored it, or took its name or key, first
        db.session.rollback()
        raise Conflict(f'"{name}" was restored, or its name or key taken, meanwhile: reload') from None
    enqueue_refresh()  # its photos are labeled again: the suggestion head learns the class back
    return {"class": cls, "relabeled": restored, "skipped": total - restored}


def _restored_key(old: int | None) -> int | None:
    """The class's old key; when another class took it, the keys from there move up one to make room."""
    if old is None:
        return None
    taken = set(db.session.scalars(select(LabelClass.key).where(LabelClass.key.is_not(None))))
    if old not in taken:
        return old
    if max(taken) < 9:
        above = select(LabelClass).where(LabelClass.key >= old).order_by(LabelClass.key.desc())
        for cls in list(db.session.scalars(above)):
            cls.key += 1
            db.session.flush()  # upwards from the top: the unique keys never clash on the way
        return old
    return next((k for k in range(1, 10) if k not in taken), None)


def _relabel(cls: LabelClass, photos: list[list]) -> int:
    labeled_at = {int(pid): _parse(when) for pid, when in photos}
    count = 0
    for chunk in _chunks(list(labeled_at), 500):
        query = select(Photo).where(Photo.id.in_(chunk), Photo.label_id.is_(None))
        for photo in db.session.scalars(query):
            photo.label_id = cls.id
            photo.labeled_at = labeled_at[photo.id] or datetime.now(UTC)
            count += 1
    return count


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]
