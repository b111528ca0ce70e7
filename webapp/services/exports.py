"""Export the labeled dataset as train|val|test/<class>/<id>-<sha>.<ext> plus manifest.csv.

Two kinds, named plainly: clean copies (the default) are the re-encoded display copies, upright JPEGs with a
long side up to 1280 px and no metadata at all (no GPS, no camera); originals are the uploaded files byte for
byte, with their metadata (GPS location included). A download is a zip written while it is sent: nothing is
written to disk, so the GET that asks for it has no side effects.
"""

import csv
import io
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.db import db
from webapp.db.models import Photo
from webapp.photostore import imaging, storage
from webapp.services import store_settings
from webapp.services.errors import InvalidInput
from webapp.services.ingest import read_phase

CLEAN, ORIGINALS = "clean", "originals"
KINDS = {CLEAN: "clean copies, no metadata", ORIGINALS: "originals, with their metadata"}
CHUNK = 1 << 20
# A cell starting with one of these is a formula to a spreadsheet: "=HYPERLINK(...)" in a file name runs.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MANIFEST_HEADER = ["path", "photo_id", "sha256", "label", "split", "original_filename", "width", "height"]


@dataclass(frozen=True)
class ExportRow:
    """One exported photo as plain data (read before any file is touched, so no database lock is held)."""

    kind: str  # CLEAN or ORIGINALS
    arcname: str
    source: Path  # the file exported: the original, or the display copy for clean copies
    photo_id: int
    sha256: str  # of the original (names the photo whichever kind is exported)
    format: str
    label: str
    split: str
    filename: str
    width: int  # of the exported picture, upright
    height: int
    created_at: datetime


def check_kind(kind: object) -> str:
    """CLEAN or ORIGINALS, or InvalidInput naming both."""
    if kind not in KINDS:
        raise InvalidInput(f'files must be "{CLEAN}" ({KINDS[CLEAN]}) or "{ORIGINALS}" ({KINDS[ORIGINALS]})')
    return str(kind)


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


def export_rows(kind: str = CLEAN) -> list[ExportRow]:
    """Each labeled photo with its archive path split/class/<id>-<sha>.<ext>, read as plain data."""
    settings = store_settings()
    with read_phase():
        return [_row(settings, p, kind) for p in labeled_photos()]


def _row(settings: storage.StoreSettings, p: Photo, kind: str) -> ExportRow:
    if kind == ORIGINALS:
        source, size = storage.original_path(settings, p.sha256, p.format), (p.width, p.height)
    else:
        source = storage.display_path(settings, p.sha256)
        size = imaging.fit_size((p.width, p.height), imaging.DISPLAY_LONG_SIDE)
    split = p.split or "train"
    arcname = f"{split}/{p.label.name}/{p.id:06d}-{p.sha256[:12]}{source.suffix}"
    return ExportRow(
        kind, arcname, source, p.id, p.sha256, p.format, p.label.name, split, p.filename, *size, p.created_at
    )


def manifest_csv(rows: list[ExportRow]) -> str:
    """The CSV manifest, one line per photo; a cell a spreadsheet would run as a formula is quoted."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(MANIFEST_HEADER)
    for r in rows:
        cells = [r.arcname, r.photo_id, r.sha256, r.label, r.split, r.filename, r.width, r.height]
        writer.writerow([_cell(c) for c in cells])
    return out.getvalue()


def _cell(value) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


# ---------------------------------------------------------------- the zip, written as it is sent


class _Sink(io.RawIOBase):
    """An unseekable file that keeps what zipfile writes until the sender takes it."""

    def __init__(self):
        super().__init__()
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        """Everything written since the last take."""
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def stream_zip(rows: list[ExportRow], settings: storage.StoreSettings, written: list | None = None):
    """The zip of these rows plus manifest.csv, in chunks (a photo whose file is gone is left out).

    written, when given, receives the rows that went into the zip.
    """
    sink = _Sink()
    written = [] if written is None else written
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:
        for row in rows:
            handle = _open(row, settings)
            if handle is None:
                continue
            with handle:
                yield from _member(archive, sink, row, handle)
            written.append(row)
        archive.writestr(_info("manifest.csv", datetime.now()), manifest_csv(written))
    yield sink.take()


def _member(archive: zipfile.ZipFile, sink: _Sink, row: ExportRow, handle) -> Iterator[bytes]:
    info = _info(row.arcname, row.created_at)
    info.file_size = handle.seek(0, os.SEEK_END)
    handle.seek(0)
    with archive.open(info, "w") as dest:
        while chunk := handle.read(CHUNK):
            dest.write(chunk)
            yield sink.take()
    yield sink.take()


def _open(row: ExportRow, settings):
    """The exported file, open; a missing display copy is derived in memory; None when the photo is gone."""
    try:
        return open(row.source, "rb")  # the caller closes it
    except FileNotFoundError:
        data = _clean_copy(row, settings) if row.kind == CLEAN else None
        return None if data is None else io.BytesIO(data)


def _original(row: ExportRow, settings) -> Path:
    return storage.original_path(settings, row.sha256, row.format)


def _clean_copy(row: ExportRow, settings) -> bytes | None:
    try:
        data = _original(row, settings).read_bytes()
    except FileNotFoundError:
        return None
    decoded = imaging.open_photo(data, settings.max_pixels, need_long_side=imaging.DISPLAY_LONG_SIDE)
    return imaging.encode_jpeg(imaging.derive_display(decoded.image), imaging.DISPLAY_QUALITY)


def _info(name: str, when: datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(
        name, date_time=when.timetuple()[:6] if when.year >= 1980 else (1980, 1, 1, 0, 0, 0)
    )
    info.compress_type = zipfile.ZIP_STORED  # photos do not compress
    return info


# ---------------------------------------------------------------- to disk (flask export)


def export_zip(target: Path, kind: str = CLEAN) -> int:
    """Write the labeled dataset to a zip file (atomically); returns the number of photos."""
    rows, written = export_rows(kind), []
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".zip.tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in stream_zip(rows, store_settings(), written):
                out.write(chunk)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return len(written)


def export_folder(target: Path, kind: str = CLEAN) -> int:
    """Copy the labeled dataset into a folder tree plus manifest.csv; returns the number of photos."""
    rows, settings = export_rows(kind), store_settings()
    written = []
    for row in rows:
        handle = _open(row, settings)
        if handle is None:
            continue
        with handle:
            dest = target / row.arcname
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(handle.read())
        written.append(row)
    (target / "manifest.csv").write_text(manifest_csv(written))
    return len(written)
