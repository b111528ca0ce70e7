"""Import datasets laid out like the article, train|val|test/<class>/* or <class>/*, from a zip or a folder.

Folder names become labels (and new classes, validated and capped per zip); every file gets its own outcome.
"""

import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from flask import current_app

from webapp.db.models import SPLITS
from webapp.services import store_settings
from webapp.services.errors import ServiceError
from webapp.services.failures import BUSY, TOO_LARGE
from webapp.services.ingest import (
    IngestResult,
    display_name,
    failed,
    ingest,
    read_phase,
    rejected,
    showable,
    too_large_message,
)
from webapp.services.zips import ZipLimits, ZipRefused, member_problem, open_checked, read_member

SKIPPED_NAMES = ("__MACOSX", ".DS_Store", "Thumbs.db")
Progress = Callable[[int, int, list[IngestResult]], None]  # (done, total, results so far)


@dataclass(frozen=True)
class Entry:
    """One file of an import with the label and split its folders give it."""

    path: str
    label: str | None
    split: str | None


def is_zip(filename: str | None, head: bytes) -> bool:
    """Whether an upload is a zip archive (by its first bytes, or its name when empty)."""
    return head.startswith(b"PK\x03\x04") or (not head and (filename or "").lower().endswith(".zip"))


def _skipped(path: str) -> bool:
    parts = PurePosixPath(path).parts
    if parts == ("manifest.csv",):  # our own export's manifest
        return True
    return any(p in SKIPPED_NAMES or (p.startswith(".") and p not in ("..", ".")) for p in parts)


def _escapes(path: str) -> bool:
    parts = PurePosixPath(path.replace("\\", "/")).parts
    return path.startswith(("/", "\\")) or ".." in parts


def plan_entries(paths: Iterable[str]) -> list[Entry]:
    """Labels and splits from folder names; wrapper folders shared by every file are ignored."""
    paths = [p for p in paths if not _skipped(p)]
    dirs = [PurePosixPath(p).parts[:-1] for p in paths]
    depth = 0
    while (
        dirs
        and all(len(d) > depth + 1 and d[depth] == dirs[0][depth] for d in dirs)
        and dirs[0][depth] not in SPLITS
    ):
        depth += 1
    return [_entry(p, d[depth:]) for p, d in zip(paths, dirs, strict=True)]


def _entry(path: str, dirs: tuple[str, ...]) -> Entry:
    if len(dirs) >= 2 and dirs[-2] in SPLITS:
        return Entry(path, dirs[-1], dirs[-2])
    if dirs and dirs[-1] not in SPLITS:
        return Entry(path, dirs[-1], None)
    return Entry(path, None, None)


def folder_problems(entries: list[Entry], label: str | None, max_new: int) -> dict[str, str]:
    """Folder labels that will not become classes, each with the reason (not a class name, over the cap)."""
    if label:  # the upload's own label applies to every file: folder names are not used
        return {}
    from webapp.services.classes import clean_name, list_classes

    known = {c.name.casefold() for c in list_classes()}
    problems: dict[str, str] = {}
    new = 0
    for name in dict.fromkeys(e.label for e in entries if e.label):
        if name.casefold() in known:
            continue
        try:
            clean_name(name)
        except ServiceError as exc:
            problems[name] = f'The folder "{showable(name)[:80]}" cannot be a class name: {exc.message}'
            continue
        if new >= max_new:
            problems[name] = (
                f'The folder "{name}" would be a new class, but one zip may create at most {max_new} new '
                "classes; create the class first, or upload these photos without their folder"
            )
            continue
        known.add(name.casefold())
        new += 1
    return problems


# ---------------------------------------------------------------- zips


def ingest_zip(stream, label: str | None = None, name: str = "archive.zip") -> list[IngestResult]:
    """Import every photo of a zip archive now (the CLI, small uploads); one result per file."""
    limits = ZipLimits.from_config(current_app.config)
    try:
        archive, members = open_checked(stream, limits)
    except ZipRefused as exc:
        return [rejected(display_name(name), exc.message, TOO_LARGE if exc.limit else None)]
    with archive:
        return ingest_archive(archive, members, label, limits)


def ingest_archive(
    archive: zipfile.ZipFile,
    members: list[zipfile.ZipInfo],
    label: str | None,
    limits: ZipLimits,
    progress: Progress | None = None,
) -> list[IngestResult]:
    """Import the members of a checked archive, telling progress(done, total, results) as it goes."""
    infos = {i.filename: i for i in members}
    results = [
        rejected(_member_name(n), "This file's path leaves the archive (../ or /); it was not imported")
        for n in infos
        if _escapes(n)
    ]
    entries = plan_entries(n for n in infos if not _escapes(n))
    with read_phase():
        problems = folder_problems(entries, label, limits.max_new_classes)
    total, busy = len(results) + len(entries), False
    for entry in entries:
        if busy:  # the rest would each wait for the lock in vain
            results.append(failed(_member_name(entry.path), BUSY, not_tried=True))
        else:
            results.append(_entry_result(archive, infos[entry.path], entry, label, limits, problems))
            busy = results[-1].failure == BUSY
        if progress is not None:
            progress(len(results), total, results)
    return results


def _entry_result(archive, info, entry: Entry, label, limits: ZipLimits, problems: dict) -> IngestResult:
    problem = problems.get(entry.label or "")
    if problem:
        return rejected(_member_name(entry.path), problem)
    return _ingest_member(archive, info, entry, label, limits)


def _ingest_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, entry: Entry, label: str | None, limits: ZipLimits
) -> IngestResult:
    name = _member_name(info.filename)
    max_bytes = store_settings().max_bytes
    problem = member_problem(info, limits, max_bytes)
    if problem:
        return rejected(name, problem, TOO_LARGE if info.file_size > max_bytes else None)
    data = read_member(archive, info, max_bytes)
    if isinstance(data, str):
        return rejected(name, data)
    if len(data) > max_bytes:
        return rejected(name, too_large_message(len(data), max_bytes), TOO_LARGE)
    result = ingest(data, info.filename, label=label or entry.label, split=entry.split)
    result.filename = name
    return result


def _member_name(path: str) -> str:
    """A member's path as shown (folders kept: they carry the label), cleaned of control characters."""
    return showable(path)[:1000] or "(unnamed file)"


# ---------------------------------------------------------------- folders and files on disk


def import_path(path: Path) -> list[IngestResult]:
    """Import a folder or a .zip from disk; one result per file."""
    if path.is_file():
        with open(path, "rb") as handle:
            return ingest_zip(handle, name=path.name)
    files = sorted(p for p in path.rglob("*") if p.is_file())
    entries = plan_entries(p.relative_to(path).as_posix() for p in files)
    return [_import_file(path / e.path, e) for e in entries]


def _import_file(file: Path, entry: Entry) -> IngestResult:
    limit = store_settings().max_bytes
    if file.stat().st_size > limit:
        return rejected(entry.path, too_large_message(file.stat().st_size, limit), TOO_LARGE)
    result = ingest(file.read_bytes(), file.name, label=entry.label, split=entry.split)
    result.filename = entry.path
    return result


def summarise(results: list[IngestResult]) -> Counter:
    """How many files were stored, duplicates and rejected."""
    return Counter(r.status for r in results)
