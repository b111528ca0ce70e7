"""Near-duplicate groups: photos whose fingerprints match share a group, and a group shares one split.

A group is named by its first photo's id. A new photo joins the group (a lone photo is one) of which it
matches the largest share of photos, and merges groups only when it matches at least MERGE_SHARE of the photos
of each: a burst whose shots arrive in any order still ends in one group. Merging on any one match (single
linkage) chains look-alikes: 120 different plates of wings shot from one angle (5 % of their pairs match)
became one group of 101 that way, and a class in one group has nothing to test on; this way its largest
group holds 11. Splits follow the group: the first labeled photo of a group chooses the split for all of it
(as a unit, see splits.choose_split_for), a later one inherits it, and moving one photo moves its group.
"""

from collections import Counter

from PIL import Image
from sqlalchemy import or_, select, text

from webapp.db import db
from webapp.db.models import Photo
from webapp.photostore import imaging, neardup, storage

MERGE_SHARE = 0.75
GROUPING_LOCK = 0x6E656172  # a PostgreSQL advisory lock key ("near"): one photo joins a group at a time


def _one_at_a_time() -> None:
    """Wait until no other transaction is grouping a photo (until this one ends).

    On PostgreSQL two uploads of near-duplicates at once would each miss the other's uncommitted photo and
    both stay alone; SQLite already lets one writer at a time in (BEGIN IMMEDIATE).
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": GROUPING_LOCK})


def _fingerprinted(exclude: int) -> tuple[list[tuple[int, int | None]], list[str]]:
    """(id, group id) and the fingerprint of every photo that has one, but `exclude`."""
    rows = db.session.execute(
        select(Photo.id, Photo.group_id, Photo.fingerprint).where(
            Photo.fingerprint.is_not(None), Photo.fingerprint != "", Photo.id != exclude
        )
    ).all()
    return [(r.id, r.group_id) for r in rows], [r.fingerprint for r in rows]


def join_group(photo: Photo, prints: tuple[str, ...] | list[str] | None) -> int | None:
    """Fingerprint a photo (flushed, so it has an id) and put it in its near-duplicates' group.

    Returns the id of the oldest photo of that group it near-duplicates, or None when it has none.
    """
    photo.fingerprint = prints[0] if prints else ""
    if not prints:
        return None
    _one_at_a_time()
    ids, stored = _fingerprinted(photo.id)
    if not ids:
        return None
    found = neardup.matches(list(prints), *neardup.split_fingerprints(stored))
    matched = {ids[i][0] for i in found.nonzero()[0]}
    if not matched:
        return None
    joined = groups_to_join(matched, ids)
    target = min(joined)
    members = db.session.scalars(select(Photo).where(or_(Photo.group_id.in_(joined), Photo.id.in_(joined))))
    for member in [*members, photo]:
        member.group_id = target
    unify_split(target)  # photos grouped after they were labeled (flask near-duplicates) share one split too
    return min(p for p, g in ids if p in matched and (g or p) in joined)


def groups_to_join(matched: set[int], ids: list[tuple[int, int | None]]) -> list[int]:
    """The group (a lone photo is one) a new photo matching `matched` joins, and any it merges with it."""
    members: dict[int, list[int]] = {}
    for photo_id, group_id in ids:
        members.setdefault(group_id or photo_id, []).append(photo_id)
    share = {
        group: sum(m in matched for m in members[group]) / len(members[group])
        for group in {group_id or photo_id for photo_id, group_id in ids if photo_id in matched}
    }
    best = max(share, key=lambda group: (share[group], -group))  # the largest share, then the oldest
    if share[best] < MERGE_SHARE:
        return [best]
    return [group for group in share if share[group] >= MERGE_SHARE]


def group_members(group_id: int | None) -> list[Photo]:
    """The photos of a group, trash included, oldest first (none for None)."""
    if group_id is None:
        return []
    return list(db.session.scalars(select(Photo).where(Photo.group_id == group_id).order_by(Photo.id)))


def group_split(group_id: int | None) -> str | None:
    """The split a group's photos share (the most common one; the oldest photo's on a tie), or None."""
    splits = [p.split for p in group_members(group_id) if p.split is not None]
    if not splits:
        return None
    counts = Counter(splits)
    best = max(counts.values())
    return next(split for split in splits if counts[split] == best)


def unify_split(group_id: int) -> int:
    """Put every photo of a group that has a split into the group's split; how many moved."""
    split = group_split(group_id)
    moved = 0
    for member in group_members(group_id):
        if member.split is not None and member.split != split:
            member.split = split
            moved += 1
    return moved


def move_group(photo: Photo, split: str) -> None:
    """Move a photo to a split, and the rest of its group that has a split with it."""
    photo.split = split
    for member in group_members(photo.group_id):
        if member.split is not None:
            member.split = split


def group_size(photo: Photo) -> int:
    """How many photos (not in the trash) share this photo's group; 1 for a photo without one."""
    if photo.group_id is None:
        return 1
    return sum(1 for p in group_members(photo.group_id) if p.deleted_at is None) or 1


def needs_backfill() -> bool:
    """Whether a photo was stored before near-duplicates were grouped (it has no fingerprint yet)."""
    return db.session.scalar(select(Photo.id).where(Photo.fingerprint.is_(None)).limit(1)) is not None


def backfill_once() -> dict[str, int] | None:
    """backfill_groups, unless another process is at it (a lock in the job queue): None then."""
    from huey.exceptions import TaskLockedException

    from webapp import queue

    try:
        with queue.huey().lock_task("group_photos"):
            return backfill_groups()
    except TaskLockedException:
        return None


def backfill_groups(batch: int = 100) -> dict[str, int]:
    """Fingerprint and group the photos stored before near-duplicates were grouped (oldest first).

    Groups found among labeled photos are put in one split (the one most of the group is in).
    """
    from webapp.services import store_settings

    settings, counts = store_settings(), {"fingerprinted": 0, "grouped": 0, "missing": 0}
    while True:
        todo = list(
            db.session.scalars(
                select(Photo).where(Photo.fingerprint.is_(None)).order_by(Photo.id).limit(batch)
            )
        )
        if not todo:
            return counts
        for photo in todo:
            try:
                prints = prints_of(settings, photo.sha256, photo.format)
            except (FileNotFoundError, storage.RejectedPhoto):
                counts["missing"] += 1  # fingerprinted as flat: `flask check` reports the missing files
                prints = None
            counts["grouped"] += join_group(photo, prints) is not None
            counts["fingerprinted"] += 1
        db.session.commit()


def prints_of(settings: storage.StoreSettings, sha: str, fmt: str) -> tuple[str, ...] | None:
    """A stored photo's neardup.query_prints, from its thumbnail (or its original when that is missing)."""
    path = storage.thumbnail_path(settings, sha)
    if path.exists():
        with Image.open(path, formats=["JPEG"]) as im:
            prints = neardup.query_prints(im.convert("RGB"))
    else:
        data = storage.original_path(settings, sha, fmt).read_bytes()  # FileNotFoundError: the photo is gone
        decoded = imaging.open_photo(data, settings.max_pixels, need_long_side=imaging.THUMBNAIL_LONG_SIDE)
        prints = neardup.query_prints(imaging.derive_all(decoded.image, settings.model_size).thumbnail)
    return tuple(prints) if prints else None
