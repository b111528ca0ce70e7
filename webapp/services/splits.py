"""Stable, stratified train/val/test splits: about 20 % validation and 20 % test per class."""

from sqlalchemy import func, select

from webapp.db import db
from webapp.db.models import Photo

VAL_FRACTION = 0.2
TEST_FRACTION = 0.2


def split_counts(class_id: int) -> dict[str, int]:
    """How many labeled photos of a class sit in each split (trash excluded)."""
    rows = db.session.execute(
        select(Photo.split, func.count())
        .where(Photo.label_id == class_id, Photo.deleted_at.is_(None), Photo.split.is_not(None))
        .group_by(Photo.split)
    )
    counts = {"train": 0, "val": 0, "test": 0}
    counts.update(dict(rows.all()))
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

    A held-out split takes the whole unit only when that brings it nearer its ~20 % than leaving it short.
    """
    if unit <= 1:
        return choose_split(counts)
    n = sum(counts.values()) + unit
    short = {
        "val": max(1, round(n * VAL_FRACTION)) - counts["val"],
        "test": max(1, round(n * TEST_FRACTION)) - counts["test"],
    }
    held_out = max(("val", "test"), key=lambda split: short[split])  # val first on a tie
    return held_out if 2 * short[held_out] > unit else "train"


def assign_split(class_id: int, unit: int = 1) -> str:
    """The split for a photo just labeled with this class, its group of `unit` photos going with it.

    It never moves on its own afterwards.
    """
    return choose_split_for(split_counts(class_id), unit)
