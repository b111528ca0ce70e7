"""The labeled dataset at a glance: counts per class and split, imbalance, trainability."""

from sqlalchemy import func, select

from webapp.db import db
from webapp.db.models import Photo
from webapp.services.classes import class_to_dict, list_classes

IMBALANCE_RATIO = 2.0
MIN_PER_CLASS = 3  # labeled photos a class needs before Train


def split_table() -> dict[int, dict[str, int]]:
    """Per class id, how many labeled photos are in train, val and test (trash excluded)."""
    rows = db.session.execute(
        select(Photo.label_id, Photo.split, func.count())
        .where(Photo.deleted_at.is_(None), Photo.label_id.is_not(None))
        .group_by(Photo.label_id, Photo.split)
    )
    table: dict[int, dict[str, int]] = {}
    for class_id, split, count in rows:
        table.setdefault(class_id, {"train": 0, "val": 0, "test": 0})[split or "train"] += count
    return table


def unit_counts() -> dict[int, int]:
    """Per class id, how many units its labeled photos make (a near-duplicate group is one unit)."""
    unit = func.coalesce(Photo.group_id, -Photo.id)  # group ids are photo ids: positive
    rows = db.session.execute(
        select(Photo.label_id, func.count(unit.distinct()))
        .where(Photo.deleted_at.is_(None), Photo.label_id.is_not(None))
        .group_by(Photo.label_id)
    )
    return dict(rows.all())


def held_out_notes(per_class: dict[str, dict[str, int]], units: dict[str, int]) -> list[str]:
    """A note for each class (of MIN_PER_CLASS photos or more) with no val or no test photos, and why."""
    notes = []
    for name, splits in per_class.items():
        count, missing = sum(splits.values()), [s for s in ("val", "test") if not splits[s]]
        if count < MIN_PER_CLASS or not missing:
            continue
        gap = " or ".join("validation" if s == "val" else s for s in missing)
        groups = units.get(name, count)
        if groups < count:
            scenes = f"{groups} scene{'s' if groups != 1 else ''}"
            why = (
                f"its {count} photos show {scenes} (the rest are near-duplicates), and near-duplicates "
                "stay in one split so that no photo is tested on a near-copy of one it trained on"
            )
            fix = f'add photos of other "{name}" scenes'
        else:
            where = "those splits" if len(missing) > 1 else "that split"
            why, fix = f"none is in {where}", f"label more, or move some to {missing[0]} on the Photos page"
        notes.append(
            f'"{name}" has no {gap} photos: {why}. Its accuracy on new photos is unknown until you {fix}'
        )
    return notes


def imbalance(counts: dict[str, int]) -> dict:
    """A warning when the largest labeled class has over twice the photos of the smallest."""
    sizes = {name: n for name, n in counts.items() if n > 0}
    if len(sizes) < 2:
        return {"warning": False, "message": None}
    big, small = max(sizes, key=sizes.get), min(sizes, key=sizes.get)
    if sizes[big] <= IMBALANCE_RATIO * sizes[small]:
        return {"warning": False, "message": None}
    return {
        "warning": True,
        "message": f'Classes are imbalanced: "{big}" has {sizes[big]} photos and '
        f'"{small}" only {sizes[small]}. Label more "{small}" photos.',
    }


def dataset_summary() -> dict:
    """Counts per class and split, unlabeled, total, trash, the imbalance warning and held-out gaps."""
    table, units = split_table(), unit_counts()
    classes = []
    for cls in list_classes():
        splits = table.get(cls.id, {"train": 0, "val": 0, "test": 0})
        classes.append({**class_to_dict(cls, {cls.id: sum(splits.values())}), **splits})
    per_class = {c["name"]: {s: c[s] for s in ("train", "val", "test")} for c in classes if c["count"]}
    base = select(func.count()).select_from(Photo)
    return {
        "classes": classes,
        "unlabeled": db.session.scalar(base.where(Photo.deleted_at.is_(None), Photo.label_id.is_(None))),
        "total": db.session.scalar(base.where(Photo.deleted_at.is_(None))),
        "trash": db.session.scalar(base.where(Photo.deleted_at.is_not(None))),
        "imbalance": imbalance({c["name"]: c["count"] for c in classes}),
        "train_problems": train_problems(classes),
        "held_out_notes": held_out_notes(per_class, {c["name"]: units.get(c["id"], 0) for c in classes}),
    }


def train_problems(classes: list[dict]) -> list[str]:
    """Why Train would be refused with these class counts (the same checks as starting a run)."""
    from webapp.services.runs import trainability  # runs imports this module for imbalance()

    per_class = {c["name"]: {s: c[s] for s in ("train", "val", "test")} for c in classes if c["count"]}
    totals = {s: sum(c[s] for c in per_class.values()) for s in ("train", "val", "test")}
    return trainability({"labels": sorted(per_class), "per_class": per_class, **totals})[0]
