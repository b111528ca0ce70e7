"""Backbone weights on the worker side: remember a failed ImageNet download, check an uploaded weights file.

The files live in instance/backbone/imagenet/ (webapp.params.UPLOADED_WEIGHTS_DIR): the uploaded weights under
the name Keras gives them, and <backbone>.failed.json after a download failed (the Train page says so).
"""

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import update

from webapp.db import db
from webapp.db.models import WeightsUpload, utcnow
from webapp.params import BACKBONE_TITLES, DEFAULT_BACKBONE, IMAGENET_FILES, UPLOADED_WEIGHTS_DIR
from webapp.worker.paths import instance_path

log = logging.getLogger(__name__)


def failed_marker(name: str) -> Path:
    """The note a failed ImageNet download leaves for this backbone."""
    return instance_path() / UPLOADED_WEIGHTS_DIR / f"{name}.failed.json"


def note_download(params: dict, weights_spec: str, error: str | None) -> None:
    """After a run on "imagenet": keep why a download failed, forget it once the weights loaded."""
    if str(weights_spec).strip().lower() != "imagenet":
        return
    marker = failed_marker((params or {}).get("backbone") or DEFAULT_BACKBONE)
    try:
        if error is None:
            marker.unlink(missing_ok=True)
            return
        marker.parent.mkdir(parents=True, exist_ok=True)
        at = datetime.now(UTC).isoformat()
        marker.write_text(json.dumps({"error": error, "at": at}), encoding="utf-8")
    except OSError:  # a note for the Train page: never a reason to fail the run's clean-up
        log.exception("could not record the weights download outcome in %s", marker)


def check_weights(upload_id: int) -> None:
    """Load an uploaded weights file into its backbone; keep it (in place of any before) only if it loads."""
    row = db.session.get(WeightsUpload, upload_id)
    if row is None or row.status != "queued":
        return
    name, incoming = row.backbone, instance_path() / "backbone" / "incoming" / row.path
    _record(upload_id, status="running")
    status, error = "failed", "The worker stopped while checking the file; upload it again"
    try:
        error = _load_error(name, incoming)
        if error is None:
            target = uploaded_path(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(incoming, target)  # atomic: a run reads the old file or the new one, never half
            failed_marker(name).unlink(missing_ok=True)
            status = "succeeded"
    finally:
        incoming.unlink(missing_ok=True)
        _record(upload_id, status=status, error=error, finished_at=utcnow())


def uploaded_path(name: str) -> Path:
    """Where the checked file is kept (the name Keras gives it)."""
    return instance_path() / UPLOADED_WEIGHTS_DIR / IMAGENET_FILES[name]


def _load_error(name: str, path: Path) -> str | None:
    from webapp.ml.backbone import MIN_IMAGE_SIZE, build_backbone
    from webapp.ml.errors import WeightsUnavailable

    try:
        build_backbone(name, str(path), MIN_IMAGE_SIZE, instance_path() / "backbone")
    except WeightsUnavailable as exc:
        cause = exc.__cause__
        reason = f"{type(cause).__name__}: {cause}" if cause else str(exc)
        return (
            f"This file is not the {BACKBONE_TITLES[name]} ImageNet weights without the top "
            f"({IMAGENET_FILES[name]}): {reason[:300]}. Nothing was changed."
        )
    return None


def _record(upload_id: int, **values) -> None:
    db.session.rollback()
    db.session.execute(update(WeightsUpload).where(WeightsUpload.id == upload_id).values(**values))
    db.session.commit()
