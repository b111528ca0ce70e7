"""Zip archives checked before anything is unpacked: member count, declared sizes, compression ratios.

A zip bomb declares what it will unpack to (and cannot unpack to more: zipfile stops at the declared size and
then fails the CRC), so every limit is checked on the central directory, the archive's first, then each
member's, and reading stops at the first limit hit, with words naming that limit.
"""

import zipfile
import zlib
from dataclasses import dataclass

from webapp.photostore.limits import MIB, number, over_limit
from webapp.services.ingest import too_large_message

ENCRYPTED_FLAG = 0x1
READABLE_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
# Photos are compressed already: zipped, they shrink by a few percent. Zeros shrink 1000 times.
RATIO_CHECKED_FROM = MIB  # smaller members cost little to read whatever their ratio
READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,  # an encrypted member (refused before reading; a lying flag still lands here)
    zlib.error,  # damaged deflate data
)


class ZipRefused(Exception):
    """The archive as a whole is refused (a limit, or damage), with the reason in plain words."""

    def __init__(self, message: str, limit: bool = True):
        super().__init__(message)
        self.message = message
        self.limit = limit  # over a limit (as opposed to damaged)


@dataclass(frozen=True)
class ZipLimits:
    """What one zip may hold, and up to what size it is imported during the request."""

    max_members: int = 10_000
    max_unpacked_bytes: int = 4 * 1024 * MIB
    max_ratio: int = 20
    max_new_classes: int = 20
    sync_members: int = 100
    sync_bytes: int = 16 * MIB

    @classmethod
    def from_config(cls, config) -> "ZipLimits":
        """Limits from an app config (ZIP_MAX_MEMBERS, ZIP_MAX_UNPACKED_BYTES, ...), defaults otherwise."""
        keys = {
            "max_members": "ZIP_MAX_MEMBERS",
            "max_unpacked_bytes": "ZIP_MAX_UNPACKED_BYTES",
            "max_ratio": "ZIP_MAX_RATIO",
            "max_new_classes": "ZIP_MAX_NEW_CLASSES",
            "sync_members": "ZIP_SYNC_MEMBERS",
            "sync_bytes": "ZIP_SYNC_BYTES",
        }
        return cls(**{field: int(config[key]) for field, key in keys.items() if config.get(key) is not None})

    def is_small(self, members: list[zipfile.ZipInfo]) -> bool:
        """Whether a zip is small enough to import while the upload request waits."""
        return len(members) <= self.sync_members and sum(i.file_size for i in members) <= self.sync_bytes


def open_checked(stream, limits: ZipLimits) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """The open archive and its file members, or ZipRefused naming the first archive limit hit."""
    declared = declared_member_count(stream)
    if declared is not None and declared > limits.max_members:
        raise ZipRefused(_too_many(declared, limits))
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise ZipRefused("The zip archive is damaged or incomplete", limit=False) from None
    members = [i for i in archive.infolist() if not i.is_dir()]
    try:
        _check_archive(members, limits)
    except ZipRefused:
        archive.close()
        raise
    return archive, members


def declared_member_count(stream) -> int | None:
    """The entry count the end record declares, read before zipfile parses (and holds) every entry."""
    try:
        end = zipfile._EndRecData(stream)  # the end-of-central-directory record, zip64 aware
    except (AttributeError, OSError, ValueError, EOFError):
        return None
    finally:
        stream.seek(0)
    return None if end is None else int(end[zipfile._ECD_ENTRIES_TOTAL])


def _check_archive(members: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    if len(members) > limits.max_members:
        raise ZipRefused(_too_many(len(members), limits))
    unpacked = sum(i.file_size for i in members)
    if unpacked > limits.max_unpacked_bytes:
        size, cap = over_limit(unpacked, limits.max_unpacked_bytes, MIB)
        raise ZipRefused(f"The zip would unpack to {size} MiB; the limit is {cap} MiB per zip")
    packed = max(1, sum(i.compress_size for i in members))
    if unpacked > RATIO_CHECKED_FROM and unpacked > limits.max_ratio * packed:
        raise ZipRefused(
            f"The zip would unpack to {number(unpacked / MIB)} MiB from {number(packed / MIB, 2)} MiB, "
            f"{unpacked // packed:,} times its size; the limit is {limits.max_ratio} times (photos barely "
            "compress, so this is not a zip of photos)"
        )


def _too_many(count: int, limits: ZipLimits) -> str:
    return (
        f"The zip holds {count:,} files; the limit is {limits.max_members:,} files per zip. "
        "Split it into smaller zips"
    )


def member_problem(info: zipfile.ZipInfo, limits: ZipLimits, max_bytes: int) -> str | None:
    """Why one member is not read, judged from the central directory alone; None when it may be read."""
    if info.flag_bits & ENCRYPTED_FLAG:
        return "This file is encrypted (password-protected); zip it again without a password"
    if info.compress_type not in READABLE_METHODS:
        return (
            f"This file is compressed with a method we do not read (zip method {info.compress_type}); "
            "zip it again with the standard (deflate) compression"
        )
    if info.file_size > max_bytes:
        return too_large_message(info.file_size, max_bytes)
    packed = max(1, info.compress_size)
    if info.file_size > RATIO_CHECKED_FROM and info.file_size > limits.max_ratio * packed:
        return (
            f"This file would unpack to {number(info.file_size / MIB)} MiB from "
            f"{number(packed / 1024)} KiB, {info.file_size // packed:,} times its size; the limit is "
            f"{limits.max_ratio} times (photos barely compress), so it was not read"
        )
    return None


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int) -> bytes | str:
    """The member's bytes (at most max_bytes + 1), or plain words for why it could not be read."""
    try:
        with archive.open(info) as handle:
            return handle.read(max_bytes + 1)
    except READ_ERRORS as exc:
        return f"This file could not be read from the zip: {_read_failure(exc)}"


def _read_failure(exc: BaseException) -> str:
    if isinstance(exc, RuntimeError) and "encrypted" in str(exc):
        return "it is encrypted (password-protected)"
    if isinstance(exc, zlib.error):
        return "its compressed data is damaged"
    if isinstance(exc, zipfile.BadZipFile) and "CRC" in str(exc):
        return "its data is damaged (the checksum does not match)"
    if isinstance(exc, NotImplementedError):
        return "it uses a zip feature we do not read"
    return "the archive is damaged at this file"
