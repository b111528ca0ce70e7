"""Ingest: validate and store uploaded photos (one file, several, or a zip), one outcome per file.

A photo is stored whole or not at all: its files are written under temporary names first (no database lock
held), then its row is inserted, the files are renamed into place and the row committed. When anything fails
(a locked database, a full disk, a bad name) the row is rolled back and the files removed, and the outcome is
told for that file alone: files stored before it stay stored, and the reply says which ones they are.
"""

import logging
import os
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.db import db
from webapp.db.models import SPLITS, LabelClass, Photo, class_by_name
from webapp.db.setup import reading
from webapp.photostore import storage
from webapp.photostore.imaging import RejectedPhoto
from webapp.photostore.limits import MIB, over_limit
from webapp.services import store_settings
from webapp.services.errors import ServiceError
from webapp.services.failures import BUSY, DISK_FULL, ERROR, TOO_LARGE, failure_kind, failure_words
from webapp.services.groups import join_group, move_group
from webapp.services.photos import set_label

log = logging.getLogger(__name__)

# Control and invisible formatting characters (bidi overrides make "gpj.exe" read as "exe.jpg").
_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


@dataclass
class IngestResult:
    """What happened to one file: stored, duplicate (of photo_id), or rejected (error says why)."""

    filename: str
    status: str
    photo_id: int | None = None
    error: str | None = None
    failure: str | None = None  # TOO_LARGE, BUSY, DISK_FULL or ERROR when a limit or the server refused it
    near_duplicate_of: int | None = None  # a stored photo's oldest near-duplicate (it joined that group)

    @property
    def duplicate_of(self) -> int | None:
        """The id of the photo this file duplicates."""
        return self.photo_id if self.status == "duplicate" else None

    @property
    def too_large(self) -> bool:
        """Whether the file was over the per-photo size limit."""
        return self.failure == TOO_LARGE

    @property
    def retryable(self) -> bool:
        """Whether sending the same file again later may well work (the cause was the server's state)."""
        return self.failure in (BUSY, DISK_FULL, ERROR)

    def as_dict(self) -> dict:
        """Plain data (the import job keeps its results like this)."""
        return {
            "filename": self.filename,
            "status": self.status,
            "photo_id": self.photo_id,
            "error": self.error,
            "failure": self.failure,
            "near_duplicate_of": self.near_duplicate_of,
        }


def rejected(filename: str, error: str, failure: str | None = None) -> IngestResult:
    """A file refused with plain words."""
    return IngestResult(filename, "rejected", None, error, failure)


def failed(filename: str, failure: str, not_tried: bool = False) -> IngestResult:
    """A file the server could not store (busy, disk full, an error), in plain words."""
    return rejected(filename, failure_words(failure, not_tried), failure)


def showable(text: str | None) -> str:
    """Text from a client made safe to store and show: valid Unicode, no control or bidi characters."""
    text = (text or "").encode("utf-8", "replace").decode("utf-8")  # lone surrogates become "?"
    return _UNSHOWABLE.sub("", unicodedata.normalize("NFC", text)).strip()


def display_name(filename: str | None) -> str:
    """The upload's name for showing only (never used on disk): last path part, cleaned, trimmed."""
    name = showable(os.path.basename((filename or "").replace("\\", "/")))
    return name[:255] or "photo"


def too_large_message(size: int, limit: int) -> str:
    """Plain words for a file over the per-photo size limit."""
    return storage.too_large_message(size, limit)


# ---------------------------------------------------------------- one photo


def ingest(
    data: bytes, filename: str | None, label: str | None = None, split: str | None = None
) -> IngestResult:
    """Validate and store one photo; the result says stored, duplicate (of which photo) or rejected (why).

    Never raises for one file's trouble: a busy database, a full disk or an unexpected error become this
    file's outcome, with nothing of it left behind.
    """
    name = display_name(filename)
    settings = store_settings()
    if len(data) > settings.max_bytes:
        return rejected(name, too_large_message(len(data), settings.max_bytes), TOO_LARGE)
    try:
        return _ingest(data, name, label, split, settings)
    except ServiceError as exc:
        db.session.rollback()
        return rejected(name, exc.message)
    except Exception as exc:  # one file's failure is that file's outcome; earlier files stay stored
        db.session.rollback()
        return failed(name, failure_kind(exc))


def _ingest(data: bytes, name: str, label: str | None, split: str | None, settings) -> IngestResult:
    sha = storage.sha256_of(data)
    with read_phase():  # a reader: never waits for (or fails on) another process's write lock
        label_error = _label_problem(label)
        existing = db.session.execute(
            select(Photo.id, Photo.deleted_at, Photo.label_id).where(Photo.sha256 == sha)
        ).first()
    if label_error:
        return rejected(name, label_error)
    if existing is not None:
        return _duplicate(existing, name, label, split)
    try:
        staged = storage.stage_photo(data, settings)  # slow (decode, encode, fsync): no lock held
    except RejectedPhoto as exc:
        return rejected(name, exc.message)
    return _record(staged, name, label, split)


def _record(staged: storage.StagedPhoto, name: str, label: str | None, split: str | None) -> IngestResult:
    """Insert the row, place the files, commit; on any failure neither the row nor the files remain."""
    p = staged.photo
    photo = Photo(
        sha256=p.sha256,
        filename=name,
        format=p.format,
        width=p.width,
        height=p.height,
        size_bytes=p.size_bytes,
    )
    try:
        db.session.add(photo)
        db.session.flush()  # from here the write lock (SQLite) or the sha256 row (PostgreSQL) is ours
    except IntegrityError:  # the same photo arrived in a parallel request
        db.session.rollback()
        staged.discard()
        return _duplicate_of_sha(p.sha256, name, label, split)
    except BaseException:
        db.session.rollback()
        staged.discard()
        raise
    photo_id = photo.id
    try:
        near = join_group(photo, p.prints)  # before the label: a grouped photo takes its group's split
        _apply_initial_label(photo, label, split)
        staged.place()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        _discard_unless_recorded(staged)
        raise
    return IngestResult(name, "stored", photo_id, near_duplicate_of=near)


def _discard_unless_recorded(staged: storage.StagedPhoto) -> None:
    """Remove a failed photo's files, unless its row exists after all (a commit that failed late).

    Files without a row can be found and removed later (flask check); a row whose files were deleted is lost.
    """
    try:
        with read_phase():
            recorded = db.session.scalar(select(Photo.id).where(Photo.sha256 == staged.photo.sha256))
    except Exception:
        log.exception("could not tell whether photo %s was recorded; its files are kept", staged.photo.sha256)
        return
    if recorded is None:
        staged.discard()


def _label_problem(label: str | None) -> str | None:
    """Why a label (a folder name, say) cannot become a class, checked before anything is stored."""
    if not label or class_by_name(label) is not None:
        return None
    from webapp.services.classes import clean_name

    try:
        clean_name(label)
    except ServiceError as exc:
        return f'"{label[:80]}" cannot be a class name: {exc.message}'
    return None


def _duplicate_of_sha(sha: str, name: str, label: str | None, split: str | None) -> IngestResult:
    with read_phase():
        existing = db.session.execute(
            select(Photo.id, Photo.deleted_at, Photo.label_id).where(Photo.sha256 == sha)
        ).first()
    if existing is None:  # the other upload failed after all: nothing to point at
        return failed(name, ERROR)
    return _duplicate(existing, name, label, split)


def _duplicate(existing, name: str, label: str | None, split: str | None) -> IngestResult:
    """A file we hold already; a trashed photo comes back, an unlabeled one takes the upload's label."""
    photo_id, deleted_at, label_id = existing
    if deleted_at is not None or (label and label_id is None):
        # Locked: emptying the trash deletes rows it has locked; a row it deleted meanwhile reads as gone.
        photo = db.session.get(Photo, photo_id, with_for_update=True, populate_existing=True)
        if photo is None:  # emptied from the trash just now, files and all: sending it again stores it anew
            db.session.rollback()
            return failed(name, BUSY)
        photo.deleted_at = None
        if label and photo.label_id is None:
            _apply_initial_label(photo, label, split)
        db.session.commit()
    return IngestResult(name, "duplicate", photo_id)


def _apply_initial_label(photo: Photo, label: str | None, split: str | None) -> None:
    if split is not None and split in SPLITS:
        move_group(photo, split)
    if label:
        cls = class_by_name(label) or _new_class(label)
        set_label(photo, cls)


def _new_class(name: str) -> LabelClass:
    from webapp.services.classes import create_class

    return create_class(name, commit=False)  # committed with the photo, or not at all


# ---------------------------------------------------------------- failures and transactions


@contextmanager
def read_phase() -> Iterator[None]:
    """Run the block as a reader in a transaction of its own, ended afterwards (a write begins anew)."""
    db.session.rollback()
    try:
        with reading():
            yield
    finally:
        db.session.rollback()


def request_too_large_message(content_length: int | None = None) -> str:
    """Plain words for a request over a limit, naming the limit it hit (its size, or its number of parts)."""
    from flask import current_app, request

    config = current_app.config
    length = request.content_length if content_length is None else content_length
    size_limit = config["MAX_CONTENT_LENGTH"]
    parts = int(config.get("MAX_FORM_PARTS") or 1000)
    if length is not None and size_limit is not None and length > size_limit:
        size, cap = over_limit(length, size_limit, MIB)
        return f"The upload is {size} MiB; the limit is {cap} MiB per request"
    memory = int(config.get("MAX_FORM_MEMORY_SIZE") or 500_000)
    if length is None or length > memory:  # a field over its memory limit cannot be told from too many parts
        cap = over_limit(size_limit + 1, size_limit, MIB)[1]
        return (
            f"The upload is over a limit: at most {parts:,} files, {memory // 1000:,} KB per form field and "
            f"{cap} MiB per request; send the photos in several uploads"
        )
    return (
        f"The upload has more than {parts:,} files; the limit is {parts:,} files per request. "
        "Send them in several uploads, or as a .zip"
    )
