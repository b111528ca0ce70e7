"""The photo store: content-addressed files on disk (no database, no HTTP, no Keras).

Layout under StoreSettings.root (instance/photos):
    originals/<sha[:2]>/<sha>.<ext>      the uploaded bytes, byte for byte (ext from the decoded format)
    display/<sha[:2]>/<sha>.jpg          long side 1280, JPEG q85, upright, no metadata
    thumbs/<sha[:2]>/<sha>.jpg           long side 320, JPEG q80, upright, no metadata
    model<side>/<sha[:2]>/<sha>.png      the model input (imaging.model_input_array policy), lossless

Every file is written to a temporary name in its folder and renamed, so a crash never leaves half a file; a
file that already exists is left alone (same name, same content). A rejected upload writes nothing at all: the
photo is validated and every copy encoded in memory before the first write.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from webapp.photostore import imaging, neardup
from webapp.photostore.imaging import RejectedPhoto
from webapp.photostore.limits import too_large_message

EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "HEIF": "heic", "GIF": "gif"}
_SHA = re.compile(r"[0-9a-f]{64}")
TEMP_PREFIX = ".tmp-"  # files being written; a crash may leave some (the store check removes them)

__all__ = [
    "EXTENSIONS",
    "RejectedPhoto",
    "StagedPhoto",
    "StoreSettings",
    "StoredPhoto",
    "display_path",
    "inspect_photo",
    "load_model_input",
    "model_input_from_bytes",
    "model_input_path",
    "original_path",
    "remove_photo_files",
    "sha256_of",
    "stage_photo",
    "store_photo",
    "thumbnail_path",
    "too_large_message",
]


@dataclass(frozen=True)
class StoreSettings:
    """Where photos live and what the store accepts."""

    root: Path  # instance/photos
    model_size: int = 224
    max_pixels: int = 100_000_000
    max_bytes: int = 50 * 1024 * 1024

    @classmethod
    def from_config(cls, config) -> StoreSettings:
        """Settings from an app config (INSTANCE_PATH, IMAGE_SIZE, MAX_IMAGE_PIXELS, MAX_UPLOAD_BYTES)."""
        return cls(
            root=Path(config["INSTANCE_PATH"]) / "photos",
            model_size=config["IMAGE_SIZE"],
            max_pixels=config["MAX_IMAGE_PIXELS"],
            max_bytes=config["MAX_UPLOAD_BYTES"],
        )


@dataclass(frozen=True)
class StoredPhoto:
    """What the store knows about one photo (the database keeps these)."""

    sha256: str
    format: str  # "JPEG" | "PNG" | "WEBP" | "HEIF" | "GIF"
    width: int  # orientation applied
    height: int
    size_bytes: int
    # neardup.query_prints of the thumbnail (the first is the photo's fingerprint); None: flat or not computed
    prints: tuple[str, ...] | None = field(default=None, compare=False)


def sha256_of(data: bytes) -> str:
    """The hex SHA-256 that names a photo."""
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- paths


def _shard(settings: StoreSettings, folder: str, sha: str, ext: str) -> Path:
    if not _SHA.fullmatch(sha):  # the name goes into a path: accept nothing but a hex digest
        raise ValueError(f"not a SHA-256 hex digest: {sha!r}")
    return Path(settings.root) / folder / sha[:2] / f"{sha}.{ext}"


def original_path(settings: StoreSettings, sha: str, fmt: str) -> Path:
    """Where the original bytes of a photo live."""
    if fmt not in EXTENSIONS:
        raise ValueError(f"not a stored photo format: {fmt!r}")
    return _shard(settings, "originals", sha, EXTENSIONS[fmt])


def display_path(settings: StoreSettings, sha: str) -> Path:
    """Where the display copy (long side 1280, JPEG) lives."""
    return _shard(settings, "display", sha, "jpg")


def thumbnail_path(settings: StoreSettings, sha: str) -> Path:
    """Where the thumbnail (long side 320, JPEG) lives."""
    return _shard(settings, "thumbs", sha, "jpg")


def model_input_path(settings: StoreSettings, sha: str, side: int | None = None) -> Path:
    """Where the model input PNG for this side (default settings.model_size) lives."""
    return _shard(settings, f"model{int(side or settings.model_size)}", sha, "png")


# ---------------------------------------------------------------- storing


def _check_size(data: bytes, settings: StoreSettings) -> None:
    if len(data) > settings.max_bytes:
        raise RejectedPhoto(too_large_message(len(data), settings.max_bytes))


def _decode(data: bytes, settings: StoreSettings) -> imaging.DecodedPhoto:
    """Size check, then validate and decode (JPEG draft mode sized for every derived copy)."""
    _check_size(data, settings)
    return imaging.open_photo(
        data, settings.max_pixels, need_long_side=imaging.DISPLAY_LONG_SIDE, need_min_side=settings.model_size
    )


def _record(data: bytes, sha: str, decoded: imaging.DecodedPhoto) -> StoredPhoto:
    return StoredPhoto(sha, decoded.format, decoded.width, decoded.height, len(data))


def inspect_photo(data: bytes, settings: StoreSettings) -> StoredPhoto:
    """Validate and measure a photo without writing anything; raises RejectedPhoto."""
    return _record(data, sha256_of(data), _decode(data, settings))


@dataclass
class StagedPhoto:
    """A photo's files written under temporary names beside their final ones, not yet visible.

    place() renames them into the store (the original last); discard() removes whatever this photo left,
    temporary or placed. A caller that records the photo elsewhere (a database row) places the files while it
    holds that record and discards them when recording fails, so no file outlives a failed upload.
    """

    photo: StoredPhoto
    files: list[tuple[Path, Path]]  # (temporary, final), the original last
    placed: list[Path] = field(default_factory=list)

    def place(self) -> list[Path]:
        """Rename every file into place; a final file that exists already is kept (same name and content)."""
        try:
            for tmp, final in self.files:
                if final.exists():
                    _unlink(tmp)
                else:
                    os.replace(tmp, final)
                    self.placed.append(final)
        except BaseException:
            self.discard()
            raise
        self.files = []
        return list(self.placed)

    def discard(self) -> None:
        """Remove the temporary files and any file place() created (missing files are fine)."""
        for tmp, _final in self.files:
            _unlink(tmp)
        for path in self.placed:
            _unlink(path)
        self.files, self.placed = [], []


def stage_photo(data: bytes, settings: StoreSettings) -> StagedPhoto:
    """Validate, normalise and write a photo's files under temporary names; nothing is visible until place().

    Raises RejectedPhoto (a file we will not store) or OSError (e.g. ENOSPC); either way nothing is left.
    """
    decoded = _decode(data, settings)
    derived = imaging.derive_all(decoded.image, settings.model_size)
    sha = sha256_of(data)
    # encode everything before the first write: a failure here must not leave a partial set behind
    contents = [
        (display_path(settings, sha), imaging.encode_jpeg(derived.display, imaging.DISPLAY_QUALITY)),
        (thumbnail_path(settings, sha), imaging.encode_jpeg(derived.thumbnail, imaging.THUMBNAIL_QUALITY)),
        (model_input_path(settings, sha), imaging.encode_png(derived.model_input)),
        # the original last: a photo whose original exists is complete (load_model_input re-derives the rest)
        (original_path(settings, sha, decoded.format), data),
    ]
    prints = neardup.query_prints(derived.thumbnail)
    photo = replace(_record(data, sha, decoded), prints=tuple(prints) if prints else None)
    staged = StagedPhoto(photo, [])
    try:
        for final, content in contents:
            staged.files.append((_write_temp(final, content), final))
    except BaseException:
        staged.discard()
        raise
    return staged


def store_photo(data: bytes, settings: StoreSettings) -> StoredPhoto:
    """Validate, normalise and store a photo and its derived copies; raises RejectedPhoto, storing nothing."""
    staged = stage_photo(data, settings)
    staged.place()
    return staged.photo


def _write_temp(path: Path, content: bytes) -> Path:
    """Write content to a temporary file beside path (flushed to disk); returns the temporary path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; a web server reading the store needs 0644
    except BaseException:
        _unlink(Path(tmp))
        raise
    return Path(tmp)


def _write_once(path: Path, content: bytes) -> bool:
    """Write content to path atomically unless it exists already; True when written."""
    if path.exists():
        return False
    tmp = _write_temp(path, content)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise
    return True


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# ---------------------------------------------------------------- reading and removing


def load_model_input(settings: StoreSettings, sha: str, fmt: str, side: int | None = None) -> np.ndarray:
    """The uint8 (side, side, 3) model input of a stored photo, re-derived from the original when missing."""
    side = int(side or settings.model_size)
    path = model_input_path(settings, sha, side)
    if path.exists():
        with Image.open(path, formats=["PNG"]) as im:
            return np.array(im.convert("RGB"), dtype=np.uint8)
    data = original_path(settings, sha, fmt).read_bytes()  # FileNotFoundError when the photo is gone
    decoded = imaging.open_photo(
        data, settings.max_pixels, need_long_side=imaging.DISPLAY_LONG_SIDE, need_min_side=side
    )
    array = imaging.derive_all(decoded.image, side).model_input
    _write_once(path, imaging.encode_png(array))
    return array


def model_input_from_bytes(data: bytes, settings: StoreSettings) -> np.ndarray:
    """The model input of a photo that is not stored ("try a photo"); raises RejectedPhoto, writes nothing.

    Same decode and same policy as store_photo, so the same bytes give the same array either way.
    """
    return imaging.derive_all(_decode(data, settings).image, settings.model_size).model_input


def remove_photo_files(settings: StoreSettings, sha: str, fmt: str) -> None:
    """Delete the original and every derived copy of a photo (missing files are fine)."""
    paths = [original_path(settings, sha, fmt), display_path(settings, sha), thumbnail_path(settings, sha)]
    root = Path(settings.root)
    if root.is_dir():
        paths += [d / sha[:2] / f"{sha}.png" for d in root.glob("model*") if d.is_dir()]
    for path in paths:
        _unlink(path)
