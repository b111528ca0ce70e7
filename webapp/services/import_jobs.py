"""Large zips are imported by a job, not on the request thread: the upload saves the zip and answers at once.

The job body lives here (it needs no TensorFlow) and is attached to the queue by services.init_app, so a
worker process runs it without webapp.worker importing services. Its row (ImportJob) carries the progress,
the counts and, once done, one result per file.
"""

import logging
import os
import shutil
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import select, update

from webapp import queue
from webapp.db import db
from webapp.db.models import ImportJob, utcnow
from webapp.services import instance_path
from webapp.services.errors import NotFound
from webapp.services.failures import ERROR, TOO_LARGE, failure_kind
from webapp.services.imports import ingest_archive
from webapp.services.ingest import IngestResult, display_name, failed, rejected
from webapp.services.zips import ZipLimits, ZipRefused, open_checked

log = logging.getLogger(__name__)
JOB_NAME = "import_zip"
PROGRESS_SECONDS = 1.0  # how often a running import writes its progress
QUEUE_DOWN = "The job queue could not be reached, so the zip was not imported; try again in a moment"


def init_app(app: Flask) -> None:
    """Attach the import job's body in every process (only a worker consumes it)."""
    queue.attach_bodies(app, {JOB_NAME: run_import})


def ingest_or_queue_zip(upload, label: str | None) -> tuple[list[IngestResult], int | None]:
    """A small zip imported now (its results), a large one saved and queued (the import's id)."""
    name = display_name(upload.filename)
    limits = ZipLimits.from_config(current_app.config)
    try:
        archive, members = open_checked(upload.stream, limits)
    except ZipRefused as exc:
        return [rejected(name, exc.message, TOO_LARGE if exc.limit else None)], None
    with archive:
        if limits.is_small(members):
            return ingest_archive(archive, members, label, limits), None
    return queue_import(upload.stream, name, label)


def queue_import(stream, name: str, label: str | None) -> tuple[list[IngestResult], int | None]:
    """Save the zip in the instance folder, record the import and queue its job."""
    try:
        path = _save(stream)
    except OSError as exc:
        return [failed(name, failure_kind(exc))], None
    try:
        job = ImportJob(filename=name, label=label, path=path.name)
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    except Exception as exc:
        db.session.rollback()
        path.unlink(missing_ok=True)
        return [failed(name, failure_kind(exc))], None
    try:
        queue.job(JOB_NAME)(job_id)
    except Exception:
        log.exception("could not queue import %s", job_id)
        _finish(job_id, "failed", [], QUEUE_DOWN)
        path.unlink(missing_ok=True)
        return [rejected(name, QUEUE_DOWN, ERROR)], None
    return [], job_id


def _save(stream) -> Path:
    folder = instance_path() / "imports"
    folder.mkdir(exist_ok=True)
    final = folder / f"{uuid.uuid4().hex}.zip"
    part = final.with_suffix(".part")
    stream.seek(0)
    try:
        with open(part, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, final)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return final


def get_import(import_id: int) -> ImportJob:
    """The import with this id, or NotFound."""
    job = db.session.get(ImportJob, import_id)
    if job is None:
        raise NotFound(f"There is no import {import_id}")
    return job


def stalled(job: ImportJob) -> bool:
    """Whether a running import has shown no progress for long: its worker died (Huey does not retry)."""
    if job.status != "running":
        return False
    updated = job.updated_at if job.updated_at.tzinfo else job.updated_at.replace(tzinfo=UTC)
    quiet = (datetime.now(UTC) - updated).total_seconds()
    return quiet > 2 * current_app.config.get("WORKER_STALE_SECONDS", 60)


# ---------------------------------------------------------------- the job (runs in a worker process)


def run_import(import_id: int) -> None:
    """The import_zip job: import a saved zip with progress, then record every file's result."""
    claimed = _claim(import_id)
    if claimed is None:
        return
    name, label, path = claimed
    seen: list[IngestResult] = []
    try:
        seen = _import_saved(import_id, path, name, label)
        _finish(import_id, "done", seen)
    except Exception as exc:
        log.exception("import %s stopped", import_id)
        _finish(import_id, "failed", seen, f"The import stopped after {len(seen):,} files: {exc}")
    finally:
        path.unlink(missing_ok=True)
    stored = [r.photo_id for r in seen if r.status == "stored"]
    if stored:
        queue.enqueue_new_photos(stored)


def _claim(import_id: int) -> tuple[str, str | None, Path] | None:
    now = utcnow()
    claimed = db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == import_id, ImportJob.status == "queued")
        .values(status="running", started_at=now, updated_at=now)
    )
    db.session.commit()
    if claimed.rowcount != 1:  # gone, or another worker has it
        return None
    row = db.session.execute(
        select(ImportJob.filename, ImportJob.label, ImportJob.path).where(ImportJob.id == import_id)
    ).one()
    db.session.rollback()
    return row.filename, row.label, instance_path() / "imports" / row.path


def _import_saved(import_id: int, path: Path, name: str, label: str | None) -> list[IngestResult]:
    limits = ZipLimits.from_config(current_app.config)
    last = [0.0]

    def progress(done: int, total: int, results: list[IngestResult]) -> None:
        if done == total or time.monotonic() - last[0] >= PROGRESS_SECONDS:
            last[0] = time.monotonic()
            _write_progress(import_id, done, total, results)

    with open(path, "rb") as handle:
        try:
            archive, members = open_checked(handle, limits)
        except ZipRefused as exc:
            return [rejected(name, exc.message, TOO_LARGE if exc.limit else None)]
        with archive:
            return ingest_archive(archive, members, label, limits, progress)


def _write_progress(import_id: int, done: int, total: int, results: list[IngestResult]) -> None:
    try:
        db.session.execute(
            update(ImportJob)
            .where(ImportJob.id == import_id)
            .values(done=done, total=total, counts=_counts(results), updated_at=utcnow())
        )
        db.session.commit()
    except Exception:  # progress is a courtesy: a busy database must not stop the import
        db.session.rollback()
        log.warning("could not write the progress of import %s", import_id, exc_info=True)


def _finish(import_id: int, status: str, results: list[IngestResult], error: str | None = None) -> None:
    values = {
        "status": status,
        "done": len(results),
        "total": len(results),
        "counts": _counts(results),
        "results": [r.as_dict() for r in results],
        "error": error,
        "finished_at": utcnow(),
        "updated_at": utcnow(),
    }
    for attempt in range(3):  # the outcome must land: a lock timeout is retried
        try:
            db.session.execute(update(ImportJob).where(ImportJob.id == import_id).values(**values))
            db.session.commit()
            return
        except Exception:
            db.session.rollback()
            log.warning("could not record the end of import %s (try %d)", import_id, attempt + 1)
    log.error("import %s finished (%s) but its row could not be updated", import_id, status)


def _counts(results: list[IngestResult]) -> dict[str, int]:
    counts = Counter(r.status for r in results)
    return {key: counts.get(key, 0) for key in ("stored", "duplicate", "rejected")}
