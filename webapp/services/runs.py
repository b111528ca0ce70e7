"""Training runs: validate a Train request, create exactly one run, cancel, pin, free disk."""

import shutil
from pathlib import Path

from flask import current_app, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import AppSetting, Photo, TrainingRun, active_run, iso, run_in_progress, utcnow
from . import ServiceError, instance_path
from .dataset import imbalance

DEFAULT_PARAMS = {"epochs": 5, "batch_size": 32, "learning_rate": 1e-4, "trainable_layers": 4}
LIMITS = {"epochs": (1, 200), "batch_size": (1, 512), "trainable_layers": (0, 19)}
MIN_PER_CLASS = 3


def clean_params(body: dict) -> dict:
    """Hyperparameters with defaults filled in, or a ServiceError naming the bad one."""
    unknown = set(body) - set(DEFAULT_PARAMS)
    if unknown:
        raise ServiceError(f"Unknown setting(s): {', '.join(sorted(unknown))}")
    params = dict(DEFAULT_PARAMS)
    for key, (low, high) in LIMITS.items():
        if body.get(key) is not None:
            value = body[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, int | str)
                or not str(value).isdecimal()
                or len(str(value)) > 6
            ):
                raise ServiceError(f"{key} must be a whole number from {low} to {high}")
            if not low <= int(value) <= high:
                raise ServiceError(f"{key} must be from {low} to {high}")
            params[key] = int(value)
    if body.get("learning_rate") is not None:
        params["learning_rate"] = _learning_rate(body["learning_rate"])
    return params


def _learning_rate(value) -> float:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise ServiceError("learning_rate must be a number such as 0.0001") from None
    if isinstance(value, bool) or not 0 < rate <= 1:
        raise ServiceError("learning_rate must be above 0 and at most 1")
    return rate


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


def trainability(data: dict) -> tuple[list[str], list[str]]:
    """(problems that refuse Train, warnings that do not) for a dataset snapshot."""
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
    return problems, warnings


def start_run(body: dict, weights: str, image_size: int) -> TrainingRun:
    """Create a queued run; exactly one at a time (409 with the run in progress otherwise)."""
    params = clean_params(body)
    _recover_dead_runs()
    # Serialise concurrent Train clicks: SQLite's BEGIN IMMEDIATE, and a row lock on other databases.
    db.session.execute(select(AppSetting).where(AppSetting.key == "train_lock").with_for_update())
    current = run_in_progress()
    if current is not None:
        db.session.rollback()
        raise ServiceError("A training run is already in progress", 409, run=run_to_dict(current))
    data = snapshot()
    problems, warnings = trainability(data)
    if problems:
        db.session.rollback()
        raise ServiceError(" ".join(problems), 400, problems=problems)
    run = TrainingRun(
        status="queued",
        params=params,
        dataset={**data, "warnings": warnings},
        weights=weights,
        image_size=image_size,
        progress={"stage": "queued"},
    )
    db.session.add(run)
    db.session.commit()
    return run


def _recover_dead_runs() -> None:
    # A run whose worker died must not block Train (or Cancel) until some worker restarts.
    from ..progress import fail_dead_runs

    fail_dead_runs(current_app.config["WORKER_STALE_SECONDS"])


def get_run(run_id: int) -> TrainingRun:
    """The run with this id, or a 404 ServiceError."""
    run = db.session.get(TrainingRun, run_id)
    if run is None:
        raise ServiceError(f"There is no run {run_id}", 404)
    return run


def cancel_run(run_id: int) -> TrainingRun:
    """Cancel a queued run at once, or ask a running one to stop at its next batch."""
    _recover_dead_runs()
    run = get_run(run_id)
    if run.status == "queued":
        run.status, run.finished_at = "cancelled", utcnow()
        run.progress = {**run.progress, "stage": "cancelled"}
        run.error = "Cancelled before it started"
    elif run.status == "running":
        run.cancel_requested = True
    else:
        raise ServiceError(f"Run {run_id} has already {run.status}", 409)
    db.session.commit()
    return run


def pin_run(run_id: int, pinned: bool) -> TrainingRun:
    """Make a succeeded run the active model (or unpin it)."""
    run = get_run(run_id)
    if pinned and (run.status != "succeeded" or not run.artifacts.get("model")):
        raise ServiceError("Only a finished run with its model files can be the active model", 409)
    for other in db.session.scalars(select(TrainingRun).where(TrainingRun.pinned.is_(True))):
        other.pinned = False
    run.pinned = pinned
    db.session.commit()
    return run


def model_dir(run_id: int) -> Path:
    """Where a run's model files live."""
    return instance_path() / "models" / str(run_id)


def delete_run_files(run_id: int) -> TrainingRun:
    """Delete a finished run's model files to free disk; its metrics and predictions stay."""
    run = get_run(run_id)
    if run.status in ("queued", "running"):
        raise ServiceError("Cancel the run before deleting its files", 409)
    shutil.rmtree(model_dir(run_id), ignore_errors=True)
    run.artifacts, run.pinned = {}, False
    db.session.commit()
    return run


def disk_use(path: Path) -> int:
    """Bytes used by the files under a folder."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def run_to_dict(run: TrainingRun, active_id: int | None = None) -> dict:
    """The API shape of a run (the dataset's photo list left out)."""
    if active_id is None:
        active = active_run()
        active_id = active.id if active else None
    dataset = {k: v for k, v in (run.dataset or {}).items() if k not in ("items", "warnings")}
    duration = (
        (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else None
    )
    files = run.artifacts or {}
    return {
        "id": run.id,
        "status": run.status,
        "params": run.params,
        "progress": _progress(run),
        "metrics": run.metrics,
        "error": run.error,
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_seconds": duration,
        "dataset": dataset,
        "warnings": (run.dataset or {}).get("warnings", []),
        "weights": run.weights,
        "image_size": run.image_size,
        "active": run.id == active_id,
        "pinned": run.pinned,
        "curves_url": url_for("pages.run_file", run_id=run.id, name="curves.png")
        if files.get("curves")
        else None,
        "has_model_files": bool(files.get("model")),
        "model_bytes": files.get("bytes", 0),
        "timings": run.timings,
        "cancel_requested": run.cancel_requested,
    }


def _progress(run: TrainingRun) -> dict:
    progress = {
        "stage": run.status,
        "epoch": 0,
        "epochs": run.params.get("epochs"),
        "batch": 0,
        "batches": 0,
        "history": [],
    }
    progress.update(run.progress or {})
    progress["epochs"] = progress.get("epochs") or run.params.get("epochs")
    return progress


def list_runs() -> list[TrainingRun]:
    """Every run, newest first."""
    return list(db.session.scalars(select(TrainingRun).order_by(TrainingRun.id.desc())))
