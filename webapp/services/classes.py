"""Classes: create, rename, recolour and re-key (deleting and restoring: class_deletes)."""

import fcntl
import json
import logging
import os
import re
import tempfile
import unicodedata
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import func, select, update

from webapp.db import db
from webapp.db.models import AppSetting, LabelClass, Photo, Prediction, TrainingRun, class_by_name
from webapp.services import instance_path
from webapp.services.errors import Conflict, InvalidInput, NotFound, ServiceError
from webapp.services.suggestions import rename_in_suggestions

log = logging.getLogger(__name__)
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
PALETTE = ["#d97706", "#2563eb", "#16a34a", "#db2777", "#7c3aed", "#0891b2", "#dc2626", "#65a30d", "#475569"]


def class_counts() -> dict[int, int]:
    """Labeled photo counts per class id (photos in the trash excluded)."""
    rows = db.session.execute(
        select(Photo.label_id, func.count())
        .where(Photo.deleted_at.is_(None), Photo.label_id.is_not(None))
        .group_by(Photo.label_id)
    )
    return dict(rows.all())


def list_classes() -> list[LabelClass]:
    """All classes in key order, then by creation."""
    return list(
        db.session.scalars(
            select(LabelClass).order_by(LabelClass.key.is_(None), LabelClass.key, LabelClass.id)
        )
    )


def class_to_dict(cls: LabelClass, counts: dict[int, int] | None = None) -> dict:
    """The API shape of a class."""
    counts = class_counts() if counts is None else counts
    return {
        "id": cls.id,
        "name": cls.name,
        "key": cls.key,
        "color": cls.color,
        "count": counts.get(cls.id, 0),
    }


def get_class(class_id: int) -> LabelClass:
    """The class with this id, or a 404 ServiceError."""
    cls = db.session.get(LabelClass, class_id)
    if cls is None:
        raise NotFound(f"There is no class {class_id}")
    return cls


def clean_name(name: object, exclude_id: int | None = None) -> str:
    """A valid, unused class name, or a ServiceError saying what is wrong."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("A class needs a name")
    name = " ".join(name.split())
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in name):
        raise InvalidInput("A class name cannot contain control characters (such as NUL) or lone surrogates")
    if len(name) > 64:
        raise InvalidInput("A class name can be at most 64 characters")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise InvalidInput("A class name cannot contain slashes")
    clash = class_by_name(name)
    if clash is not None and clash.id != exclude_id:
        raise Conflict(f'There is already a class named "{clash.name}"')
    return name


def _clean_key(key: object, exclude_id: int | None) -> int | None:
    if key is None or key == "":
        return None
    if isinstance(key, bool) or not str(key).isdecimal() or len(str(key)) > 1 or not 1 <= int(key) <= 9:
        raise InvalidInput("A class key must be a digit from 1 to 9")
    clash = db.session.scalar(select(LabelClass).where(LabelClass.key == int(key)))
    if clash is not None and clash.id != exclude_id:
        raise Conflict(f'Key {key} is already used by "{clash.name}"')
    return int(key)


def _clean_color(color: object) -> str:
    if not isinstance(color, str) or not COLOR_RE.match(color):
        raise InvalidInput("A colour must look like #1a2b3c")
    return color.lower()


def create_class(name: object, color: object = None, key: object = None, commit: bool = True) -> LabelClass:
    """Add a class with a free key and the next palette colour unless given."""
    name = clean_name(name)
    taken = set(db.session.scalars(select(LabelClass.key)))
    if key is None:
        key = next((k for k in range(1, 10) if k not in taken), None)
    count = db.session.scalar(select(func.count()).select_from(LabelClass))
    cls = LabelClass(
        name=name,
        key=_clean_key(key, None),
        color=_clean_color(color) if color else PALETTE[count % len(PALETTE)],
    )
    db.session.add(cls)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return cls


def update_class(class_id: int, changes: dict) -> LabelClass:
    """Rename, recolour or re-key a class (a rename reaches the runs' metrics, predictions and files)."""
    cls = get_class(class_id)
    unknown = set(changes) - {"name", "color", "key"}
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(sorted(unknown))}")
    files: list[tuple[Path, Path]] = []
    try:
        if "name" in changes:
            new_name = clean_name(changes["name"], exclude_id=cls.id)
            _rename_in_runs(cls.name, new_name, files)
            rename_in_suggestions(cls.name, new_name)
            cls.name = new_name
        if "color" in changes:
            cls.color = _clean_color(changes["color"])
        if "key" in changes:
            cls.key = _clean_key(changes["key"], cls.id)
        with _files_lock() if files else nullcontext():
            db.session.commit()
            _put_in_place(files)
    finally:
        _discard(files)
    return cls


def _rename_in_runs(old: str, new: str, files: list[tuple[Path, Path]]) -> None:
    """Carry a rename into every run that knows the class: its predictions (so old guesses are not counted
    wrong), dataset and metrics (so the confusion matrix links open the right gallery), labels.json and
    model_info.json. The rewritten files go into `files` as (temporary, final), put in place after the commit.
    """
    if old == new:
        return
    db.session.execute(update(Prediction).where(Prediction.label == old).values(label=new))
    runs = db.session.scalars(select(TrainingRun).order_by(TrainingRun.id).with_for_update())
    for run in [r for r in runs if old in ((r.dataset or {}).get("labels") or [])]:
        mapping = {old: new}
        run.dataset = _renamed(run.dataset, mapping)
        run.metrics = _renamed(run.metrics, mapping)
        _rename_probabilities(run.id, mapping)
        _rewrite_label_files(run, files)


def _renamed(data: dict | None, mapping: dict[str, str]) -> dict | None:
    """A dataset snapshot or metrics dict with class names mapped in "labels" and "per_class" keys."""
    if not data:
        return data
    data = dict(data)
    if isinstance(data.get("labels"), list):
        data["labels"] = [mapping.get(name, name) for name in data["labels"]]
    if isinstance(data.get("per_class"), dict):
        data["per_class"] = {mapping.get(name, name): v for name, v in data["per_class"].items()}
    return data


def _rename_probabilities(run_id: int, mapping: dict[str, str]) -> None:
    rows = db.session.execute(
        select(Prediction.photo_id, Prediction.probabilities).where(Prediction.run_id == run_id)
    )
    changes = [
        {
            "run_id": run_id,
            "photo_id": photo_id,
            "probabilities": {mapping.get(k, k): p for k, p in probs.items()},
        }
        for photo_id, probs in rows
        if isinstance(probs, dict) and mapping.keys() & probs.keys()
    ]
    if changes:
        db.session.execute(update(Prediction), changes)


def _rewrite_label_files(run: TrainingRun, files: list[tuple[Path, Path]]) -> None:
    """New labels.json and model_info.json of a run under temporary names; the names come from the run's
    (renamed) dataset, by position, so a file is right whatever an earlier rename left in it."""
    artifacts, labels = run.artifacts or {}, list(run.dataset["labels"])
    folder = instance_path() / "models" / str(run.id)
    if artifacts.get("labels") and (folder / artifacts["labels"]).is_file():
        files.append(_prepare(folder / artifacts["labels"], labels))
    info_path = folder / artifacts["info"] if artifacts.get("info") else None
    if info_path is None or not info_path.is_file():
        return
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except ValueError:  # a damaged file must not block renaming a class: it is left as it is
        log.warning("run %s: %s is not valid JSON; its labels were not renamed", run.id, info_path.name)
        return
    mapping = dict(zip(info.get("labels") or [], labels, strict=False))
    info = {**_renamed(info, mapping), "metrics": _renamed(info.get("metrics"), mapping)}
    files.append(_prepare(info_path, info))


def _prepare(path: Path, data) -> tuple[Path, Path]:
    """data as JSON in a temporary file beside path (created 0600, synced); (temporary, final)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, path.stat().st_mode & 0o777)
    return Path(tmp), path


def _put_in_place(files: list[tuple[Path, Path]]) -> None:
    for tmp, final in files:
        os.replace(tmp, final)  # atomic: a reader sees the old file or the new one, never half of one


def _discard(files: list[tuple[Path, Path]]) -> None:
    for tmp, _final in files:
        tmp.unlink(missing_ok=True)


@contextmanager
def _files_lock():
    # Two renames touching the same run: the second's files are written after the first's are in place.
    with open(instance_path() / "models" / ".rename.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def seed_classes(names: str) -> None:
    """Create the configured classes on the very first start (not again after a user deleted them).

    Empty entries and repeats (compared as class names are: spaces collapsed, case ignored) are skipped; a
    name that cannot be a class stops the start with a ValueError that says which and why."""
    if db.session.get(AppSetting, "seeded"):
        return
    for name in (" ".join(n.split()) for n in names.split(",")):
        try:
            if name and class_by_name(name) is None:
                create_class(name, commit=False)
        except ServiceError as exc:
            db.session.rollback()
            raise ValueError(f"WEBAPP_CLASSES: {name[:80]!r} cannot be a class: {exc.message}") from None
    db.session.add(AppSetting(key="seeded", value="1"))
    db.session.commit()
