"""Why a file was not stored when the cause is a limit or the server's state, not the file: in plain words."""

import errno
import logging

from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

# Why a file was not stored when the cause is a limit or the server, not the file itself.
TOO_LARGE, BUSY, DISK_FULL, ERROR = "too_large", "busy", "disk_full", "error"
FAILURE_WORDS = {
    BUSY: "The database is busy; this file was not stored. Try again in a moment",
    DISK_FULL: "The disk is full; this file was not stored. Free some space and try again",
    ERROR: "The server could not store this file; the details are in its log",
}
NOT_TRIED = " (not tried: an earlier file found the database busy)"
# What SQLite and PostgreSQL say when a lock could not be had in time, or the disk is full.
LOCK_TIMEOUT_WORDS = ("database is locked", "lock timeout", "could not obtain lock", "deadlock detected")
DISK_FULL_WORDS = ("database or disk is full", "no space left on device", "could not extend file")


def failure_words(failure: str, not_tried: bool = False) -> str:
    """The plain words for a failure kind (busy, disk full, error)."""
    return FAILURE_WORDS[failure] + (NOT_TRIED if not_tried else "")


def failure_kind(exc: BaseException) -> str:
    """BUSY, DISK_FULL or ERROR for an exception met while storing a file (unexpected ones are logged)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        log.error("disk full while storing a photo: %s", exc)
        return DISK_FULL
    if isinstance(exc, DBAPIError):
        words = str(exc.orig if exc.orig is not None else exc).lower()
        if any(w in words for w in LOCK_TIMEOUT_WORDS):
            log.warning("database lock timeout while storing a photo: %s", words)
            return BUSY
        if any(w in words for w in DISK_FULL_WORDS):
            log.error("database disk full while storing a photo: %s", words)
            return DISK_FULL
    log.error("could not store a photo", exc_info=exc)
    return ERROR
