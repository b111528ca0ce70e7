"""Upload requests: each file stored (or refused) on its own; small zips expanded, large ones queued."""

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.db import db
from webapp.db.models import Photo
from webapp.db.setup import reading
from webapp.services import store_settings
from webapp.services.failures import BUSY, TOO_LARGE
from webapp.services.ingest import (
    IngestResult,
    display_name,
    failed,
    ingest,
    read_phase,
    rejected,
    too_large_message,
)


def ingest_each(items: Iterable, ingest_one: Callable[..., IngestResult], name_of: Callable) -> list:
    """ingest_one(item) for each item; once the database is busy the rest are told so, not tried."""
    results: list[IngestResult] = []
    busy = False
    for item in items:
        if busy:
            results.append(failed(name_of(item), BUSY, not_tried=True))
            continue
        result = ingest_one(item)
        results.extend(result if isinstance(result, list) else [result])
        busy = any(r.failure == BUSY for r in results[-1:])
    return results


@dataclass
class UploadBatch:
    """The outcome of one upload request: per-file results, and the import jobs started for large zips."""

    results: list[IngestResult]
    imports: list


def ingest_upload_batch(uploads: list, label: str | None = None) -> UploadBatch:
    """Store each uploaded file (one outcome each); small zips are expanded, large ones become import jobs.

    Photos that were stored get their features and the active model's prediction in the background.
    """
    from webapp import queue
    from webapp.services.import_jobs import ingest_or_queue_zip
    from webapp.services.imports import is_zip
    from webapp.services.photos import resolve_label

    if label:
        with read_phase():
            resolve_label(label)
    imports: list = []

    def one(upload):
        head = upload.stream.read(4)
        upload.stream.seek(0)
        if is_zip(upload.filename, head):
            results, job = ingest_or_queue_zip(upload, label)
            imports.extend([job] if job is not None else [])
            return results
        return _ingest_stream(upload, label)

    results = ingest_each(uploads, one, lambda upload: display_name(upload.filename))
    stored = [r.photo_id for r in results if r.status == "stored"]
    if stored:
        queue.enqueue_new_photos(stored)
    return UploadBatch(results, imports)


def _ingest_stream(upload, label: str | None) -> IngestResult:
    limit = store_settings().max_bytes
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        upload.stream.seek(0, os.SEEK_END)  # the whole file has arrived: tell its true size, not limit + 1
        size = max(upload.stream.tell(), len(data))
        return rejected(display_name(upload.filename), too_large_message(size, limit), TOO_LARGE)
    return ingest(data, upload.filename, label=label)


def photos_of(results: list[IngestResult]) -> dict[int, Photo]:
    """The photos the results name, with their labels, read without any write lock (for the reply)."""
    ids = {r.photo_id for r in results if r.photo_id is not None}
    if not ids:
        return {}
    db.session.rollback()
    with reading():  # the transaction stays open for the reply; the request's end closes it
        photos = db.session.scalars(select(Photo).options(selectinload(Photo.label)).where(Photo.id.in_(ids)))
        return {p.id: p for p in photos}
