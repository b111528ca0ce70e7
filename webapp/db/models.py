"""Typed SQLAlchemy 2 models and small queries."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from webapp.db import db

SPLITS = ("train", "val", "test")
RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
ACTIVE_STATUSES = ("queued", "running")


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 text for a stored datetime (stored naive as UTC by SQLite)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


class LabelClass(db.Model):
    """A class a photo can be labeled with (beer, wings, ...)."""

    __tablename__ = "label_class"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    color: Mapped[str] = mapped_column(String(7))
    key: Mapped[int | None] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    photos: Mapped[list["Photo"]] = relationship(back_populates="label")


class DeletedClass(db.Model):
    """A deleted class kept so it can be restored: its name, colour, key and the photos it labeled."""

    __tablename__ = "deleted_class"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    color: Mapped[str] = mapped_column(String(7))
    key: Mapped[int | None] = mapped_column(Integer)
    # [[photo id, labeled_at ISO text or None], ...]: the photos that lost this label.
    photos: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class Photo(db.Model):
    """One stored photo: the original by SHA-256 plus its label and split."""

    __tablename__ = "photo"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(8))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    label_id: Mapped[int | None] = mapped_column(
        ForeignKey("label_class.id", ondelete="SET NULL"), index=True
    )
    split: Mapped[str | None] = mapped_column(String(5), index=True)
    labeled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Near-duplicates (webapp.photostore.neardup): the fingerprint ("" when the picture is flat, None when
    # not yet computed), and the group: the id of its first photo, None while it has no near-duplicate.
    fingerprint: Mapped[str | None] = mapped_column(Text)
    group_id: Mapped[int | None] = mapped_column(Integer, index=True)
    label: Mapped[LabelClass | None] = relationship(back_populates="photos")


class TrainingRun(db.Model):
    """A training job and everything it produced; the truth about a job, whatever the queue says."""

    __tablename__ = "training_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The snapshot's summary (labels, counts per class and split, warnings); polled with every run.
    dataset: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Its per-photo items [[photo id, sha256, format, label index, split], ...]: one per labeled photo, read
    # only by the worker that trains. Deferred, and the table's last column, so listing or polling runs never
    # reads it (SQLite stops reading a record before it; PostgreSQL keeps it TOASTed out of line).
    dataset_items: Mapped[list[list[Any]] | None] = deferred(mapped_column(JSON))
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    artifacts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    weights: Mapped[str] = mapped_column(String(255), default="")
    image_size: Mapped[int] = mapped_column(Integer, default=224)
    error: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The TFLite export, converted by a worker on request: None (not asked), converting, ready or failed.
    tflite_state: Mapped[str | None] = mapped_column(String(12))
    tflite_error: Mapped[str | None] = mapped_column(Text)
    tflite_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Prediction(db.Model):
    """One run's prediction for one photo."""

    __tablename__ = "prediction"
    run_id: Mapped[int] = mapped_column(ForeignKey("training_run.id", ondelete="CASCADE"), primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id", ondelete="CASCADE"), primary_key=True)
    label: Mapped[str] = mapped_column(String(64), index=True)
    confidence: Mapped[float] = mapped_column(Float, index=True)
    probabilities: Mapped[dict[str, float]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Suggestion(db.Model):
    """The suggestion model's guess for one photo (not a run: trained on the labels as they are now).

    verdict records what a person did with it: "accepted" when they gave the photo the suggested label
    (shown_label), "changed" when another; None while the photo has no human label.
    """

    __tablename__ = "suggestion"
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id", ondelete="CASCADE"), primary_key=True)
    label: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float, index=True)
    shown_label: Mapped[str | None] = mapped_column(String(64))
    verdict: Mapped[str | None] = mapped_column(String(8), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def active_run() -> TrainingRun | None:
    """The run whose model answers predictions: the pinned one, else the newest that succeeded."""
    run_id = active_run_id()
    return db.session.get(TrainingRun, run_id) if run_id is not None else None


def active_run_id() -> int | None:
    """The active run's id (pinned, else the newest succeeded run with model files); reads few columns."""
    pinned = db.session.scalar(
        select(TrainingRun.id).where(TrainingRun.pinned.is_(True), TrainingRun.status == "succeeded").limit(1)
    )
    if pinned is not None:
        return pinned
    newest = db.session.execute(
        select(TrainingRun.id, TrainingRun.artifacts)
        .where(TrainingRun.status == "succeeded")
        .order_by(TrainingRun.id.desc())
        .limit(20)
    )
    # A run whose model files were deleted to free disk keeps its metrics but cannot answer any more.
    return next((run_id for run_id, files in newest if (files or {}).get("model")), None)


def run_in_progress() -> TrainingRun | None:
    """The queued or running run, if any."""
    return db.session.scalar(
        select(TrainingRun).where(TrainingRun.status.in_(ACTIVE_STATUSES)).order_by(TrainingRun.id).limit(1)
    )


def class_by_name(name: str) -> LabelClass | None:
    """The class with this name, compared case-insensitively in Python (SQLite's lower() is ASCII only)."""
    wanted = name.casefold()
    return next((c for c in db.session.scalars(select(LabelClass)) if c.name.casefold() == wanted), None)


class AppSetting(db.Model):
    """Small key-value facts about this instance (e.g. that first-start seeding happened)."""

    __tablename__ = "app_setting"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class WorkerBeat(db.Model):
    """A worker's heartbeat, so the web side can say whether any worker is alive."""

    __tablename__ = "worker_beat"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


IMPORT_STATUSES = ("queued", "running", "done", "failed")


class ImportJob(db.Model):
    """A zip imported in the background: its progress, counts and, once done, one result per file."""

    __tablename__ = "import_job"
    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    filename: Mapped[str] = mapped_column(String(255))
    label: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(64))  # the saved zip's name in instance/imports
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WeightsUpload(db.Model):
    """A backbone weights file an admin uploaded: kept once a worker loaded it (webapp.worker.weights)."""

    __tablename__ = "weights_upload"
    id: Mapped[int] = mapped_column(primary_key=True)
    backbone: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(64))  # the received file's name in instance/backbone/incoming
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


ROLES = ("admin", "labeler")


class User(db.Model):
    """A person who signs in: an admin (everything) or a labeler (upload, label, view, try a photo)."""

    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10), default="labeler")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    # Flask-Login's user protocol (kept here so the web side needs no wrapper class).
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        """The id Flask-Login keeps in the session."""
        return str(self.id)

    @property
    def is_admin(self) -> bool:
        """Whether this user may do everything."""
        return self.role == "admin"


class ApiToken(db.Model):
    """An API token of a user; only its SHA-256 is stored (the token itself is shown once)."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user: Mapped[User] = relationship()


class OneTimeLink(db.Model):
    """A single-use sign-in link: the first-start setup link, or a phone pairing link (hash stored only)."""

    __tablename__ = "one_time_link"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # "setup" | "pair"
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
