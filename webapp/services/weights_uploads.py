"""An admin uploads a backbone's ImageNet weights file downloaded elsewhere (for a machine without internet).

The web process saves the file under a temporary name and queues a check; a worker loads it into the backbone
and only then puts it in place (webapp.worker.weights). A bad file ends the upload "failed" with the reason,
and whatever file was kept before stays.
"""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from webapp import queue
from webapp.db import db
from webapp.db.models import WeightsUpload, iso, utcnow
from webapp.params import BACKBONE_TITLES, BACKBONES, IMAGENET_BYTES, IMAGENET_FILES, UPLOADED_WEIGHTS_DIR
from webapp.services import instance_path
from webapp.services.errors import Conflict, InvalidInput, NotFound, TooLarge
from webapp.services.weights import setting_kind

JOB_NAME = "check_weights"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_FACTOR = 2  # a file more than twice the size of the real one cannot be it
CHUNK = 1 << 20
STALE = timedelta(minutes=10)  # loading a backbone takes seconds: an upload unchecked this long was lost
STALE_WORDS = "No worker checked the file (is one running?); upload it again"


def incoming_dir() -> Path:
    """Where received files wait for their check (instance/backbone/incoming)."""
    return instance_path() / Path(UPLOADED_WEIGHTS_DIR).parent / "incoming"


def start_upload(backbone: str, upload) -> WeightsUpload:
    """Save an uploaded weights file and queue its check; InvalidInput for a file that cannot be weights."""
    if backbone not in BACKBONES:
        raise InvalidInput(f"backbone must be one of {', '.join(BACKBONES)}")
    if setting_kind() != "imagenet":
        raise Conflict(
            "This server does not use the ImageNet weights (WEBAPP_BACKBONE_WEIGHTS is not imagenet), so an "
            "uploaded weights file would not be used"
        )
    name = _save(upload.stream, backbone)
    row = WeightsUpload(
        backbone=backbone,
        filename=(upload.filename or "weights.h5")[:255],
        path=name,
        size_bytes=(incoming_dir() / name).stat().st_size,
    )
    db.session.add(row)
    db.session.commit()
    queue.job(JOB_NAME)(row.id)
    return row


def _save(stream, backbone: str) -> str:
    """The stream in incoming/<random>.h5, refused early when it is not HDF5 or far too large."""
    folder = incoming_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name, limit = f"{uuid.uuid4().hex}.h5", IMAGENET_BYTES[backbone] * MAX_FACTOR
    path, size = folder / name, 0
    try:
        with path.open("wb") as out:
            for chunk in iter(lambda: stream.read(CHUNK), b""):
                if size == 0 and not chunk.startswith(HDF5_SIGNATURE):
                    raise InvalidInput(_not_weights(backbone))
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"This file is larger than the {BACKBONE_TITLES[backbone]} weights file")
                out.write(chunk)
        if size == 0:
            raise InvalidInput("The file is empty")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return name


def _not_weights(backbone: str) -> str:
    return (
        f"This is not a Keras weights file (HDF5): upload {IMAGENET_FILES[backbone]}, the "
        f"{BACKBONE_TITLES[backbone]} ImageNet weights without the top"
    )


def _created(row: WeightsUpload) -> datetime:
    at = row.created_at
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite gives naive times back


def get_upload(upload_id: int) -> WeightsUpload:
    """One upload, or NotFound."""
    row = db.session.get(WeightsUpload, upload_id)
    if row is None:
        raise NotFound(f"No weights upload {upload_id}")
    return row


def latest_upload(backbone: str) -> WeightsUpload | None:
    """The newest upload for a backbone, if any."""
    query = select(WeightsUpload).where(WeightsUpload.backbone == backbone).order_by(WeightsUpload.id.desc())
    return db.session.scalars(query.limit(1)).first()


def upload_to_dict(row: WeightsUpload) -> dict:
    """An upload as JSON-ready data (one left unchecked for too long reads as failed, saying why)."""
    status, error = row.status, row.error
    if status in ("queued", "running") and _created(row) < utcnow() - STALE:
        status, error = "failed", STALE_WORDS
    return {
        "id": row.id,
        "backbone": row.backbone,
        "filename": row.filename,
        "size_bytes": row.size_bytes,
        "status": status,
        "error": error,
        "created_at": iso(row.created_at),
        "finished_at": iso(row.finished_at),
    }
