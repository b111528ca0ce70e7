"""Check the photo store, the feature cache and the model folders against the database; repair what can be.

The cheap form lists folders and compares names with rows (it runs at every start of `python -m webapp`);
the full form also hashes every original and opens every feature file. Files newer than the grace period
are reported but never removed: an upload writes its files before its row.
"""

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from flask import current_app
from sqlalchemy import select

from webapp import queue
from webapp.db import db
from webapp.db.models import ACTIVE_STATUSES, Photo, TrainingRun
from webapp.photostore import storage
from webapp.photostore.imaging import RejectedPhoto
from webapp.queue import runstate
from webapp.services import instance_path, store_settings
from webapp.services.feature_files import feature_files, key_folders

UNFIXABLE = ("missing original", "hash mismatch", "bad original")


@dataclass
class Problem:
    """One thing wrong: its kind, where (a path under the instance folder, or "photo 12"), what was done."""

    kind: str
    where: str
    repaired: bool = False
    note: str = ""


@dataclass
class Report:
    """What a check found (and, with repair, fixed)."""

    photos: int = 0
    runs: int = 0
    full: bool = False
    problems: list[Problem] = field(default_factory=list)

    def add(self, kind: str, where: str, note: str = "") -> Problem:
        """Record a problem."""
        problem = Problem(kind, where, note=note)
        self.problems.append(problem)
        return problem

    def unfixed(self) -> list[Problem]:
        """Problems still there after the check (and repair, if asked)."""
        return [p for p in self.problems if not p.repaired]

    def summary(self) -> str:
        """One line: what was checked, how many problems of each kind, and what to do."""
        form = "full" if self.full else "cheap"
        head = f"store check ({form}): {self.photos} photos, {self.runs} runs"
        if not self.problems:
            return f"{head}: no problems"
        counts: dict[str, int] = {}
        for p in self.problems:
            counts[p.kind] = counts.get(p.kind, 0) + 1
        found = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        fixed = sum(p.repaired for p in self.problems)
        tail = f"; {fixed} repaired" if fixed else "; run `flask --app webapp check --repair`"
        return f"{head}: {found}{tail}"


def check_store(full: bool = False, repair: bool = False, grace_seconds: float = 600) -> Report:
    """Compare files with rows; with repair, fix what can be fixed (see the module's docstring)."""
    report = Report(full=full)
    old_before = time.time() - grace_seconds
    rows = {sha: (pid, fmt, deleted) for pid, sha, fmt, deleted in db.session.execute(_photo_query())}
    report.photos = len(rows)
    db.session.rollback()
    _check_photos(report, rows, old_before, full, repair)
    _check_features(report, rows, old_before, full, repair)
    _check_models(report, old_before, repair)
    return report


def _photo_query():
    return select(Photo.id, Photo.sha256, Photo.format, Photo.deleted_at)


def _relative(path: Path) -> str:
    return str(path.relative_to(instance_path()))


def _unlink_if_old(problem: Problem, path: Path, old_before: float, repair: bool) -> None:
    if path.stat().st_mtime >= old_before:
        problem.note = "newer than the grace period: left alone (an upload or a run may be writing it)"
    elif repair:
        path.unlink(missing_ok=True)
        problem.repaired = True


# ---------------------------------------------------------------- photos


def _walk(root: Path) -> Iterator[Path]:
    """Every file two folder levels below root's folders (root/<folder>/<shard>/<file>)."""
    if not root.is_dir():
        return
    for folder in os.scandir(root):
        if folder.is_dir():
            for shard in os.scandir(folder.path):
                if shard.is_dir():
                    yield from (Path(f.path) for f in os.scandir(shard.path) if f.is_file())


def _check_photos(report: Report, rows: dict, old_before: float, full: bool, repair: bool) -> None:
    settings = store_settings()
    present = set()
    for path in _walk(Path(settings.root)):
        present.add(path)
        row = rows.get(path.stem)
        if path.name.startswith(".") or row is None or _wrong_original(settings, path, path.stem, row):
            _unlink_if_old(report.add("orphan file", _relative(path)), path, old_before, repair)
    for sha, (photo_id, fmt, _deleted) in rows.items():
        _check_photo(report, settings, present, photo_id, sha, fmt, full, repair)


def _wrong_original(settings, path: Path, sha: str, row) -> bool:
    return path.parent.parent.name == "originals" and path != storage.original_path(settings, sha, row[1])


def _check_photo(report, settings, present: set, photo_id: int, sha: str, fmt: str, full, repair) -> None:
    original = storage.original_path(settings, sha, fmt)
    if original not in present:
        report.add("missing original", f"photo {photo_id}", "gone from disk: delete it and upload again")
        return
    if full and storage.sha256_of(original.read_bytes()) != sha:
        report.add("hash mismatch", f"photo {photo_id}", "its original was changed on disk")
        return
    copies = [
        storage.display_path(settings, sha),
        storage.thumbnail_path(settings, sha),
        storage.model_input_path(settings, sha),
    ]
    missing = [_relative(p) for p in copies if p not in present]
    if missing:
        problem = report.add("missing copy", f"photo {photo_id}", ", ".join(missing))
        if repair:
            _rederive(problem, settings, original)


def _rederive(problem: Problem, settings, original: Path) -> None:
    try:  # stores only what is missing: existing files are left as they are
        storage.store_photo(original.read_bytes(), settings)
    except RejectedPhoto as exc:
        problem.kind, problem.note = "bad original", exc.message
        return
    problem.repaired = True


# ---------------------------------------------------------------- cached features


def _check_features(report: Report, rows: dict, old_before: float, full: bool, repair: bool) -> None:
    root = instance_path() / "features"
    for key in key_folders(root):
        for sha, path in feature_files(key):
            if not sha or sha not in rows:
                _unlink_if_old(report.add("orphan features", _relative(path)), path, old_before, repair)
            elif full and not _readable_features(path):
                problem = report.add("corrupt features", _relative(path), "computed again when next needed")
                _unlink_if_old(problem, path, old_before, repair)
    _check_missing_features(report, root, rows, repair)


def _readable_features(path: Path) -> bool:
    # The same test as webapp.ml.features (which the web side does not import): header and length, mapped.
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False).dtype == np.float16
    except (OSError, ValueError, EOFError):
        return False


def _check_missing_features(report: Report, root: Path, rows: dict, repair: bool) -> None:
    """Live photos without features in the newest cache for this input size (a cache: queued, not fatal)."""
    size = f"-{current_app.config['IMAGE_SIZE']}px-"
    keys = [k for k in key_folders(root) if size in k.name]
    if not keys:
        return
    newest = max(keys, key=lambda k: k.stat().st_mtime)
    cached = {sha for sha, _path in feature_files(newest) if sha}
    missing = [pid for sha, (pid, _fmt, deleted) in rows.items() if deleted is None and sha not in cached]
    if missing:
        problem = report.add("missing features", f"{len(missing)} photos", f"in {_relative(newest)}")
        if repair:
            queue.enqueue_new_photos(missing)  # the worker computes them
            problem.repaired, problem.note = True, problem.note + "; queued for the worker"


# ---------------------------------------------------------------- model folders


def _check_models(report: Report, old_before: float, repair: bool) -> None:
    query = select(TrainingRun.id, TrainingRun.status, TrainingRun.artifacts)  # not the large dataset column
    runs = {run_id: (status, dict(files or {})) for run_id, status, files in db.session.execute(query)}
    report.runs = len(runs)
    db.session.rollback()
    root = runstate.models_root()
    entries = sorted(root.iterdir()) if root.is_dir() else []
    for path in entries:
        _check_model_entry(report, path, runs, old_before, repair)
    for run_id, (status, artifacts) in runs.items():
        model = artifacts.get("model")
        if status == "succeeded" and model and not (root / str(run_id) / model).is_file():
            problem = report.add("missing model files", f"run {run_id}", "its entry is cleared on repair")
            if repair:
                problem.repaired = runstate.update_if(run_id, ("succeeded",), artifacts={})
                db.session.commit()


def _check_model_entry(report: Report, path: Path, runs: dict, old_before: float, repair: bool) -> None:
    if path.is_file():
        _unlink_if_old(report.add("orphan file", _relative(path)), path, old_before, repair)
        return
    if path.name.startswith(runstate.REMOVED_PREFIX):
        problem = report.add("left-over removed folder", _relative(path), "a delete that failed before")
        problem.repaired = repair and runstate.delete_tree(path)
        return
    run = runs.get(int(path.name)) if path.name.isdigit() else None
    if run is not None and run[0] in ACTIVE_STATUSES:
        return  # a worker is writing it
    if run is None or not run[1].get("model"):
        problem = report.add("orphan model folder", _relative(path), "no run lists these files")
        if repair and path.stat().st_mtime < old_before:
            problem.repaired = _remove_folder(path)
        return
    for temp in path.glob(".tmp-*"):
        _unlink_if_old(report.add("orphan file", _relative(temp)), temp, old_before, repair)


def _remove_folder(path: Path) -> bool:
    aside = path.with_name(f"{runstate.REMOVED_PREFIX}{path.name}-{uuid.uuid4().hex[:8]}")
    os.rename(path, aside)  # gone from its place at once; the delete may take a while, or fail and be retried
    return runstate.delete_tree(aside)
