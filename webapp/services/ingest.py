"""Ingest: validate and store uploaded photos (one file, several, or a zip), one outcome per file."""

import os
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.db import db
from webapp.db.models import SPLITS, LabelClass, Photo, class_by_name
from webapp.photostore import storage
from webapp.photostore.imaging import RejectedPhoto
from webapp.services import store_settings
from webapp.services.errors import ServiceError
from webapp.services.photos import set_label


@dataclass
class IngestResult:
    """What happened to one file: stored, duplicate (of photo), or rejected (error says why)."""

    filename: str
    status: str
    photo: Photo | None = None
    error: str | None = None
    too_large: bool = False

    @property
    def duplicate_of(self) -> int | None:
        """The id of the photo this file duplicates."""
        return self.photo.id if self.photo is not None and self.status == "duplicate" else None


def rejected(filename: str, error: str, too_large: bool = False) -> IngestResult:
    """A file refused with plain words."""
    return IngestResult(filename, "rejected", None, error, too_large)


def display_name(filename: str | None) -> str:
    """The upload's name for showing only (never used on disk): last path part, trimmed."""
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    return name[:255] or "photo"


def _result(filename: str, status: str, photo: Photo | None = None, error: str | None = None) -> IngestResult:
    return IngestResult(filename, status, photo, error)


def ingest(
    data: bytes, filename: str | None, label: str | None = None, split: str | None = None
) -> IngestResult:
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
    from webapp.services.classes import clean_name

    try:
        clean_name(label)
    except ServiceError as exc:
        return f'"{label[:80]}" cannot be a class name: {exc.message}'
    return None


def _duplicate(photo: Photo, name: str, label: str | None, split: str | None) -> IngestResult:
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
    from webapp.services.classes import create_class

    return create_class(name)


def too_large_message(size: int, limit: int) -> str:
    """Plain words for a file over the per-photo size limit."""
    return storage.too_large_message(size, limit)


def ingest_uploads(uploads: list, label: str | None = None) -> list[IngestResult]:
    """Store uploaded files (FileStorage-like: .filename, .stream, .content_length); zips are expanded.

    Photos that were stored get their features and the active model's prediction in the background.
    """
    from webapp import queue
    from webapp.services.dataset_io import ingest_zip, is_zip
    from webapp.services.photos import resolve_label

    if label:
        resolve_label(label)
    results: list[IngestResult] = []
    for upload in uploads:
        head = upload.stream.read(4)
        upload.stream.seek(0)
        if is_zip(upload.filename, head):
            results.extend(ingest_zip(upload.stream, label=label))
        else:
            results.append(_ingest_stream(upload, label))
    stored = [r.photo.id for r in results if r.status == "stored"]
    if stored:
        queue.enqueue_new_photos(stored)
    return results


def _ingest_stream(upload, label: str | None) -> IngestResult:
    limit = store_settings().max_bytes
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        size = max(upload.content_length or 0, len(data))
        return rejected(display_name(upload.filename), too_large_message(size, limit), too_large=True)
    return ingest(data, upload.filename, label=label)


def request_too_large_message() -> str:
    """Plain words for a request over MAX_CONTENT_LENGTH."""
    from flask import current_app

    limit = storage.megabytes(current_app.config["MAX_CONTENT_LENGTH"], round_up=False)
    return f"The upload is too large; the limit is {limit} MB per request"
