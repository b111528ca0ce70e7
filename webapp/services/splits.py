"""Stable, stratified train/val/test splits: about 20 % validation and 20 % test per class.

Near-duplicate groups are placed as units (see groups.py), and a group's members that are not labeled yet
count where their group is, so the photos labeled after a group still fill val and test.
"""

from sqlalchemy import func, select

from webapp.db import db
from webapp.db.models import Photo

VAL_FRACTION = 0.2
TEST_FRACTION = 0.2


def split_counts(class_id: int) -> dict[str, int]:
    """How many photos of a class sit in each split: labeled ones, and unlabeled members of its groups."""
    placed = (Photo.label_id == class_id, Photo.deleted_at.is_(None), Photo.split.is_not(None))
    rows = db.session.execute(select(Photo.split, func.count()).where(*placed).group_by(Photo.split))
    counts = {"train": 0, "val": 0, "test": 0}
    counts.update(dict(rows.all()))
    groups = select(Photo.group_id, Photo.split).where(*placed, Photo.group_id.is_not(None)).distinct()
    groups = groups.subquery()
    pending = db.session.execute(
        select(groups.c.split, func.count(Photo.id))
        .join(groups, Photo.group_id == groups.c.group_id)
        .where(Photo.label_id.is_(None), Photo.deleted_at.is_(None))
        .group_by(groups.c.split)
    )
    for split, count in pending:
        counts[split] += count
    return counts


def choose_split(counts: dict[str, int]) -> str:
    """The split a class's next photo joins so val and test each track ~20 % of the class.

    The 1st photo trains, the 2nd goes to val and the 3rd to test, so a class of the minimum 3 photos has one
    of each; from then on val and test grow to round(20 %) of the class (6 + 6 of 30, as the article did).
    """
    n = sum(counts.values()) + 1
    want_val = max(1 if n >= 2 else 0, round(n * VAL_FRACTION))
    want_test = max(1 if n >= 3 else 0, round(n * TEST_FRACTION))
    if counts["val"] < want_val and counts["val"] <= counts["test"]:
        return "val"
    if counts["test"] < want_test:
        return "test"
    if counts["val"] < want_val:
        return "val"
    return "train"


def choose_split_for(counts: dict[str, int], unit: int = 1) -> str:
    """The split a unit of `unit` photos (a near-duplicate group) joins together.

    As with single photos, the first unit trains and an empty val, then test, takes the next one that fits in
    twice its share (so a class of three groups has one in each); otherwise the unit goes where the class is
    furthest below its 60/20/20 share (train first on a tie: a big group is safest in train).
    """
    if unit <= 1:
        return choose_split(counts)
    n = sum(counts.values()) + unit
    if counts["train"] == 0:
        return "train"
    for split, fraction in (("val", VAL_FRACTION), ("test", TEST_FRACTION)):
        if counts[split] == 0 and unit <= 2 * fraction * n:
            return split
    share = {"train": 1 - VAL_FRACTION - TEST_FRACTION, "val": VAL_FRACTION, "test": TEST_FRACTION}
    return max(share, key=lambda split: share[split] * n - counts[split])


def assign_split(class_id: int, unit: int = 1) -> str:
    """The split for a photo just labeled with this class, its group of `unit` photos going with it.

    It never moves on its own afterwards.
    """
    return choose_split_for(split_counts(class_id), unit)
