"""Import and export datasets laid out like the article: train|val|test/<class>/* or simply <class>/*."""

import csv
import io
import os
import shutil
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.db import db
from webapp.db.models import SPLITS, Photo
from webapp.photostore import storage
from webapp.services import store_settings
from webapp.services.ingest import IngestResult, display_name, ingest, rejected, too_large_message

SKIPPED_NAMES = ("__MACOSX", ".DS_Store", "Thumbs.db")


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


def ingest_zip(stream, label: str | None = None) -> list[IngestResult]:
    """Import every photo of a zip archive; one result per file."""
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError):
        return [_rejected("archive.zip", "The zip archive is damaged or incomplete")]
    with archive:
        infos = {i.filename: i for i in archive.infolist() if not i.is_dir()}
        unsafe = [
            _rejected(n, "This file's path leaves the archive (../ or /); it was not imported")
            for n in infos
            if _escapes(n)
        ]
        safe = [n for n in infos if not _escapes(n)]
        return unsafe + [_ingest_entry(archive, infos[e.path], e, label) for e in plan_entries(safe)]


def _ingest_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, entry: Entry, label: str | None
) -> IngestResult:
    limit = store_settings().max_bytes
    if info.file_size > limit:
        return _rejected(info.filename, too_large_message(info.file_size, limit))
    try:
        with archive.open(info) as handle:
            data = handle.read(limit + 1)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as exc:
        return _rejected(info.filename, f"Could not read this file from the zip ({exc})")
    if len(data) > limit:
        return _rejected(info.filename, too_large_message(len(data), limit))
    result = ingest(data, info.filename, label=label or entry.label, split=entry.split)
    result.filename = info.filename
    return result


def _rejected(name: str, error: str) -> IngestResult:
    return rejected(display_name(name) if "/" not in name else name, error)


def import_path(path: Path) -> list[IngestResult]:
    """Import a folder or a .zip from disk; one result per file."""
    if path.is_file():
        with open(path, "rb") as handle:
            return ingest_zip(handle)
    files = sorted(p for p in path.rglob("*") if p.is_file())
    entries = plan_entries(p.relative_to(path).as_posix() for p in files)
    return [_import_file(path / e.path, e) for e in entries]


def _import_file(file: Path, entry: Entry) -> IngestResult:
    limit = store_settings().max_bytes
    if file.stat().st_size > limit:
        return _rejected(entry.path, too_large_message(file.stat().st_size, limit))
    result = ingest(file.read_bytes(), file.name, label=entry.label, split=entry.split)
    result.filename = entry.path
    return result


def summarise(results: list[IngestResult]) -> Counter:
    """How many files were stored, duplicates and rejected."""
    return Counter(r.status for r in results)


def labeled_photos() -> list[Photo]:
    """Every labeled photo outside the trash, for export."""
    return list(
        db.session.scalars(
            select(Photo)
            .options(selectinload(Photo.label))
            .where(Photo.deleted_at.is_(None), Photo.label_id.is_not(None))
            .order_by(Photo.id)
        )
    )


@dataclass(frozen=True)
class ExportRow:
    """One exported photo as plain data (read before any file is touched, so no database lock is held)."""

    arcname: str
    original: Path
    photo_id: int
    sha256: str
    label: str
    split: str
    filename: str
    width: int
    height: int


def export_rows() -> list[ExportRow]:
    """Each labeled photo with its archive path split/class/<id>-<sha>.<ext>."""
    settings = store_settings()
    rows = []
    for p in labeled_photos():
        original = storage.original_path(settings, p.sha256, p.format)
        split = p.split or "train"
        arcname = f"{split}/{p.label.name}/{p.id:06d}-{p.sha256[:12]}{original.suffix}"
        rows.append(
            ExportRow(arcname, original, p.id, p.sha256, p.label.name, split, p.filename, p.width, p.height)
        )
    db.session.rollback()
    return rows


def manifest_csv(rows: list[ExportRow]) -> str:
    """The CSV manifest: one line per exported photo."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["path", "photo_id", "sha256", "label", "split", "original_filename", "width", "height"])
    for r in rows:
        writer.writerow([r.arcname, r.photo_id, r.sha256, r.label, r.split, r.filename, r.width, r.height])
    return out.getvalue()


def export_zip(target: Path) -> int:
    """Write the labeled dataset to a zip (atomically); returns the number of photos."""
    rows = export_rows()
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".zip.tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
            for row in rows:
                archive.write(row.original, row.arcname)
            archive.writestr("manifest.csv", manifest_csv(rows))
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return len(rows)


def export_folder(target: Path) -> int:
    """Copy the labeled dataset into a folder tree plus manifest.csv; returns the number of photos."""
    rows = export_rows()
    for row in rows:
        dest = target / row.arcname
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(row.original.read_bytes())
    (target / "manifest.csv").write_text(manifest_csv(rows))
    return len(rows)


def export_zip_file():
    """The labeled dataset as an open, already unlinked zip file (POSIX keeps it readable while sent)."""
    from webapp.services import instance_path

    folder = Path(tempfile.mkdtemp(dir=instance_path()))
    try:
        export_zip(folder / "dataset.zip")
        return open(folder / "dataset.zip", "rb")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
