"""Classes: create, rename, recolour, re-key and delete."""

import re

from sqlalchemy import func, select, update

from webapp.db import db
from webapp.db.models import AppSetting, LabelClass, Photo, Prediction, TrainingRun, class_by_name
from webapp.services.errors import Conflict, InvalidInput, NotFound, ServiceError

COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
PALETTE = ["#d97706", "#2563eb", "#16a34a", "#db2777", "#7c3aed", "#0891b2", "#dc2626", "#65a30d", "#475569"]


def class_counts() -> dict[int, int]:
    """Labeled photo counts per class id (photos in the trash excluded)."""
    rows = db.session.execute(
        select(Photo.label_id, func.count())
        .where(Photo.deleted_at.is_(None), Photo.label_id.is_not(None))
        .group_by(Photo.label_id)
    )
    return dict(rows.all())


def list_classes() -> list[LabelClass]:
    """All classes in key order, then by creation."""
    return list(
        db.session.scalars(
            select(LabelClass).order_by(LabelClass.key.is_(None), LabelClass.key, LabelClass.id)
        )
    )


def class_to_dict(cls: LabelClass, counts: dict[int, int] | None = None) -> dict:
    """The API shape of a class."""
    counts = class_counts() if counts is None else counts
    return {
        "id": cls.id,
        "name": cls.name,
        "key": cls.key,
        "color": cls.color,
        "count": counts.get(cls.id, 0),
    }


def get_class(class_id: int) -> LabelClass:
    """The class with this id, or a 404 ServiceError."""
    cls = db.session.get(LabelClass, class_id)
    if cls is None:
        raise NotFound(f"There is no class {class_id}")
    return cls


def clean_name(name: object, exclude_id: int | None = None) -> str:
    """A valid, unused class name, or a ServiceError saying what is wrong."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("A class needs a name")
    name = " ".join(name.split())
    if len(name) > 64:
        raise InvalidInput("A class name can be at most 64 characters")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise InvalidInput("A class name cannot contain slashes")
    clash = class_by_name(name)
    if clash is not None and clash.id != exclude_id:
        raise Conflict(f'There is already a class named "{clash.name}"')
    return name


def _clean_key(key: object, exclude_id: int | None) -> int | None:
    if key is None or key == "":
        return None
    if isinstance(key, bool) or not str(key).isdecimal() or len(str(key)) > 1 or not 1 <= int(key) <= 9:
        raise InvalidInput("A class key must be a digit from 1 to 9")
    clash = db.session.scalar(select(LabelClass).where(LabelClass.key == int(key)))
    if clash is not None and clash.id != exclude_id:
        raise Conflict(f'Key {key} is already used by "{clash.name}"')
    return int(key)


def _clean_color(color: object) -> str:
    if not isinstance(color, str) or not COLOR_RE.match(color):
        raise InvalidInput("A colour must look like #1a2b3c")
    return color.lower()


def create_class(name: object, color: object = None, key: object = None, commit: bool = True) -> LabelClass:
    """Add a class with a free key and the next palette colour unless given."""
    name = clean_name(name)
    taken = set(db.session.scalars(select(LabelClass.key)))
    if key is None:
        key = next((k for k in range(1, 10) if k not in taken), None)
    count = db.session.scalar(select(func.count()).select_from(LabelClass))
    cls = LabelClass(
        name=name,
        key=_clean_key(key, None),
        color=_clean_color(color) if color else PALETTE[count % len(PALETTE)],
    )
    db.session.add(cls)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return cls


def update_class(class_id: int, changes: dict) -> LabelClass:
    """Rename, recolour or re-key a class."""
    cls = get_class(class_id)
    unknown = set(changes) - {"name", "color", "key"}
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(sorted(unknown))}")
    if "name" in changes:
        new_name = clean_name(changes["name"], exclude_id=cls.id)
        _rename_in_runs(cls.name, new_name)
        cls.name = new_name
    if "color" in changes:
        cls.color = _clean_color(changes["color"])
    if "key" in changes:
        cls.key = _clean_key(changes["key"], cls.id)
    db.session.commit()
    return cls


def _rename_in_runs(old: str, new: str) -> None:
    """Carry a rename into stored predictions and runs' label lists, so old guesses are not counted wrong."""
    if old == new:
        return
    db.session.execute(update(Prediction).where(Prediction.label == old).values(label=new))
    for run in db.session.scalars(select(TrainingRun)):
        labels = (run.dataset or {}).get("labels") or []
        if old in labels:
            run.dataset = {**run.dataset, "labels": [new if n == old else n for n in labels]}


def delete_class(class_id: int, force: bool = False) -> int:
    """Delete a class; its photos become unlabeled. Without force, refuse when photos would be affected."""
    cls = get_class(class_id)
    count = db.session.scalar(select(func.count()).select_from(Photo).where(Photo.label_id == cls.id))
    if count and not force:
        raise Conflict(
            f'"{cls.name}" labels {count} photo(s); they would become unlabeled. '
            "Confirm to delete it anyway.",
            count=count,
        )
    for photo in db.session.scalars(select(Photo).where(Photo.label_id == cls.id)):
        photo.label_id = None
        photo.labeled_at = None
    db.session.delete(cls)
    db.session.commit()
    return count


def seed_classes(names: str) -> None:
    """Create the configured classes on the very first start (not again after a user deleted them)."""
    if db.session.get(AppSetting, "seeded"):
        return
    for name in (n.strip() for n in names.split(",") if n.strip()):
        try:
            if class_by_name(name) is None:
                create_class(name, commit=False)
        except ServiceError as exc:
            raise ValueError(f"WEBAPP_CLASSES: {name!r} cannot be a class: {exc.message}") from None
    db.session.add(AppSetting(key="seeded", value="1"))
    db.session.commit()
