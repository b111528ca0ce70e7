"""Training runs: validate a Train request, create exactly one run, cancel, pin, free disk."""

import threading
import time
from pathlib import Path

from flask import current_app
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from webapp.db import db
from webapp.db.models import AppSetting, Photo, TrainingRun, run_in_progress
from webapp.db.models import active_run_id as active_run_id_query
from webapp.params import BACKBONES, DEFAULT_BACKBONE, TrainParams, defaults
from webapp.services import instance_path
from webapp.services.dataset import MIN_PER_CLASS, held_out_notes, imbalance, unit_counts
from webapp.services.errors import Conflict, Failed, InvalidInput, NotFound, Unavailable

# Stored on the run as given or defaulted, so that a run's params can be posted again ("Train again"). The
# optimizer is not among them: it goes with the backbone (webapp/params.py).
USER_PARAMS = ("epochs", "batch_size", "learning_rate", "trainable_layers", "backbone")
DEFAULT_PARAMS = {name: getattr(TrainParams(), name) for name in USER_PARAMS}  # VGG16's
RUNS_PER_PAGE = 50
# Walking the photo store is slow (every file is stat'ed): one figure per instance folder, kept a while.
_storage_cache: dict[Path, tuple[float, dict[str, int], tuple]] = {}
_storage_lock = threading.Lock()


def clean_params(body: dict, default_backbone: str = DEFAULT_BACKBONE) -> dict:
    """Hyperparameters with the chosen backbone's defaults filled in, checked by TrainParams (as the worker
    checks them); the backbone is default_backbone (WEBAPP_BACKBONE) unless the body names one."""
    unknown = sorted(set(body) - set(USER_PARAMS))
    if unknown:
        raise InvalidInput(f"Unknown setting(s): {', '.join(unknown)}")
    given = {k: v for k, v in body.items() if v is not None}
    given.setdefault("backbone", default_backbone)
    try:
        params = TrainParams.from_dict(given)
    except ValueError as exc:
        raise InvalidInput(str(exc).removesuffix(".")) from None
    return {name: getattr(params, name) for name in USER_PARAMS}


def train_defaults() -> dict:
    """What a Train request without settings gets: the default backbone and each backbone's defaults."""
    return {
        "backbone": current_app.config["BACKBONE"],
        "backbones": {name: defaults(name) for name in BACKBONES},
    }


def snapshot() -> dict:
    """The labeled dataset as a run will see it: labels and (photo id, sha, label index, split) items."""
    photos = list(
        db.session.scalars(
            select(Photo)
            .options(selectinload(Photo.label))
            .where(Photo.deleted_at.is_(None), Photo.label_id.is_not(None))
            .order_by(Photo.id)
        )
    )
    labels = sorted({p.label.name for p in photos})
    index = {name: i for i, name in enumerate(labels)}
    items = [[p.id, p.sha256, p.format, index[p.label.name], p.split or "train"] for p in photos]
    per_class = {name: {"train": 0, "val": 0, "test": 0} for name in labels}
    for _pid, _sha, _fmt, label, split in items:
        per_class[labels[label]][split] += 1
    totals = {s: sum(c[s] for c in per_class.values()) for s in ("train", "val", "test")}
    return {"labels": labels, "items": items, "per_class": per_class, **totals}


def _units_by_name() -> dict[str, int]:
    """unit_counts keyed by class name."""
    from webapp.services.classes import list_classes

    units = unit_counts()
    return {cls.name: units.get(cls.id, 0) for cls in list_classes()}


def trainability(data: dict, units: dict[str, int] | None = None) -> tuple[list[str], list[str]]:
    """(problems that refuse Train, warnings that do not) for a dataset snapshot; units: per class name, its
    near-duplicate groups and single photos (held-out gaps are warned of only when given)."""
    problems, warnings = [], []
    if len(data["labels"]) < 2:
        problems.append("Label photos of at least two classes before training")
    small = [n for n, c in data["per_class"].items() if sum(c.values()) < MIN_PER_CLASS]
    if small:
        problems.append(
            f"Each class needs at least {MIN_PER_CLASS} labeled photos; too few: {', '.join(small)}"
        )
    if data["labels"] and (data["val"] == 0 or data["test"] == 0):
        problems.append(
            "There are no validation or test photos yet: label more photos, or move some to "
            "the val and test splits"
        )
    if data["labels"] and data["train"] == 0:
        problems.append("There are no training photos: move some photos to the train split")
    warning = imbalance({n: sum(c.values()) for n, c in data["per_class"].items()})
    if warning["warning"]:
        warnings.append(warning["message"])
    if units is not None and not problems:
        warnings += held_out_notes(data["per_class"], units)
    return problems, warnings


def ensure_train_lock() -> None:
    """The row that serialises Train clicks (locked FOR UPDATE while a run is created)."""
    if db.session.get(AppSetting, "train_lock") is None:
        db.session.add(AppSetting(key="train_lock", value=""))
        db.session.commit()


def start_run(body: dict) -> TrainingRun:
    """Create a queued run and queue its training; Unavailable (and the run failed) when the queue is down."""
    from webapp import queue
    from webapp.queue.runstate import mark_finished

    cfg = current_app.config
    run = create_run(body, cfg["BACKBONE_WEIGHTS"], cfg["IMAGE_SIZE"])
    try:
        queue.enqueue_training(run.id)
    except Exception as exc:
        mark_finished(run.id, "failed", f"Could not queue the run: {exc}")
        raise Unavailable(f"The job queue is not available, so the run could not start: {exc}") from exc
    return run


def create_run(body: dict, weights: str, image_size: int) -> TrainingRun:
    """Create a queued run; exactly one at a time (Conflict carrying the run in progress otherwise)."""
    params = clean_params(body, current_app.config["BACKBONE"])
    _recover_dead_runs()
    # Serialise concurrent Train clicks: SQLite's BEGIN IMMEDIATE, and a row lock on other databases.
    db.session.execute(select(AppSetting).where(AppSetting.key == "train_lock").with_for_update())
    current = run_in_progress()
    if current is not None:
        db.session.rollback()
        raise Conflict("A training run is already in progress", run=current)
    data = snapshot()
    problems, warnings = trainability(data, _units_by_name())
    if problems:
        db.session.rollback()
        raise InvalidInput(" ".join(problems), problems=problems)
    items = data.pop("items")
    run = TrainingRun(
        status="queued",
        params=params,
        dataset={**data, "warnings": warnings},
        dataset_items=items,
        weights=weights,
        image_size=image_size,
        progress={"stage": "queued"},
    )
    db.session.add(run)
    db.session.commit()
    return run


def _recover_dead_runs() -> None:
    # A run whose worker died must not block Train (or Cancel) until some worker restarts.
    from webapp.queue.runstate import fail_dead_runs

    fail_dead_runs(current_app.config["WORKER_STALE_SECONDS"])


def get_run(run_id: int) -> TrainingRun:
    """The run with this id, or NotFound."""
    run = db.session.get(TrainingRun, run_id)
    if run is None:
        raise NotFound(f"There is no run {run_id}")
    return run


def cancel_run(run_id: int) -> TrainingRun:
    """Cancel a queued run at once, or ask a running one to stop at its next batch."""
    from webapp.queue import runstate

    _recover_dead_runs()
    get_run(run_id)
    # Conditional updates: a worker may claim the run between our read and our write (PostgreSQL).
    if not (runstate.cancel_queued(run_id) or runstate.request_cancel(run_id)):
        raise Conflict(f"Run {run_id} has already {get_run(run_id).status}")
    return get_run(run_id)


def _locked_run(run_id: int) -> TrainingRun:
    """The run, read afresh and locked for this transaction (FOR UPDATE; SQLite's writer lock does it)."""
    query = select(TrainingRun).where(TrainingRun.id == run_id).with_for_update()
    run = db.session.scalar(query.execution_options(populate_existing=True))
    if run is None:
        raise NotFound(f"There is no run {run_id}")
    return run


def pin_run(run_id: int, pinned: bool) -> TrainingRun:
    """Make a succeeded run the active model (or unpin it)."""
    run = _locked_run(run_id)  # pruning clears artifacts only of unpinned runs, under the same row lock
    if pinned and (run.status != "succeeded" or not run.artifacts.get("model")):
        raise Conflict("Only a finished run with its model files can be the active model")
    for other in db.session.scalars(select(TrainingRun).where(TrainingRun.pinned.is_(True))):
        other.pinned = False
    run.pinned = pinned
    db.session.commit()
    if pinned:  # the gallery shows the pinned run's predictions for every photo, new ones included
        from webapp import queue

        queue.enqueue_predictions(run.id)
    return run


def model_dir(run_id: int) -> Path:
    """Where a run's model files live."""
    return instance_path() / "models" / str(run_id)


def delete_run_files(run_id: int) -> TrainingRun:
    """Delete a finished run's model files to free disk; its metrics and predictions stay."""
    from webapp.queue import runstate

    run = _locked_run(run_id)
    if run.status in ("queued", "running"):
        raise Conflict("Cancel the run before deleting its files")
    try:  # one rename takes the whole folder away, or leaves it whole (and its entry) where it was
        aside = runstate.move_aside(run_id)
    except OSError as exc:
        db.session.rollback()
        raise Failed(f"The model files of run {run_id} could not be deleted: {exc.strerror or exc}") from exc
    run.artifacts, run.pinned = {}, False
    db.session.commit()
    if aside is not None:
        runstate.delete_tree(aside)
    return run


def disk_use(path: Path) -> int:
    """Bytes used by the files under a folder."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def list_runs(page: int = 1, per_page: int = RUNS_PER_PAGE) -> tuple[list[TrainingRun], int]:
    """One page of runs, newest first, and how many runs there are."""
    total = db.session.scalar(select(func.count()).select_from(TrainingRun))
    query = select(TrainingRun).order_by(TrainingRun.id.desc()).limit(per_page).offset((page - 1) * per_page)
    return list(db.session.scalars(query)), total


def storage_use() -> dict[str, int]:
    """Disk use of photos, cached features and model files, measured at most every STORAGE_CACHE_SECONDS,
    and again as soon as a run ended or a TFLite file was made (the figure then agrees with the runs list)."""
    root, max_age = instance_path(), current_app.config.get("STORAGE_CACHE_SECONDS", 60)
    runs = _runs_fingerprint()
    with _storage_lock:  # one walk at a time: concurrent pollers wait for it and share its figures
        cached = _storage_cache.get(root)
        if cached is None or time.monotonic() - cached[0] >= max_age or cached[2] != runs:
            figures = {f"{name}_bytes": disk_use(root / name) for name in ("photos", "features", "models")}
            cached = _storage_cache[root] = (time.monotonic(), figures, runs)
    return {**cached[1], "measured_seconds_ago": round(time.monotonic() - cached[0], 1)}


def _runs_fingerprint() -> tuple:
    ready = func.sum(case((TrainingRun.tflite_state == "ready", 1), else_=0))
    query = select(func.count(TrainingRun.id), func.max(TrainingRun.finished_at), ready)
    row = db.session.execute(query).one()
    return tuple(str(v) for v in row)


def forget_storage_use() -> None:
    """Measure disk use again on the next call (after this process freed or wrote many files)."""
    with _storage_lock:
        _storage_cache.pop(instance_path(), None)


def active_run_id() -> int | None:
    """The id of the run whose model answers predictions, if any."""
    return active_run_id_query()
