"""Error replies: domain errors and HTTP errors as JSON for the API or a page for the browser."""

import errno
import logging

from flask import Flask, Response, jsonify, render_template, request
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from webapp.db import db
from webapp.services import errors
from webapp.services.ingest import request_too_large_message
from webapp.web.auth import user_without_lookup
from webapp.web.present import extra_json

log = logging.getLogger(__name__)
STATUS = {
    errors.InvalidInput: 400,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.TooLarge: 413,
    errors.Failed: 500,
    errors.StorageFull: 507,
    errors.Unavailable: 503,
}
RETRY_AFTER_BUSY = 5
DISK_FULL = "The disk is full: free some space (deleting old runs' model files helps), then try again"
# A lock not had in time is the only database error worth retrying (503): SQLite's SQLITE_BUSY/SQLITE_LOCKED,
# PostgreSQL's lock_not_available and deadlock_detected. The words are a fallback for drivers without codes.
LOCK_SQLSTATES = ("55P03", "40P01")
LOCK_TIMEOUT_WORDS = ("database is locked", "lock timeout", "could not obtain lock", "deadlock detected")
DISK_FULL_SQLSTATES = ("53100",)  # disk_full
DISK_FULL_WORDS = ("database or disk is full", "no space left on device", "could not extend file")


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    app.register_error_handler(errors.ServiceError, _service_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_error)
    app.register_error_handler(OSError, _os_error)
    app.register_error_handler(Exception, _unexpected_error)


def wants_json() -> bool:
    """Whether this request is an API call (errors then come back as JSON)."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(message: str, status: int, retry_after: int | None = None, **extra):
    """An error as JSON for the API, or as a page for the browser (that page reads no database)."""
    if wants_json():
        response = jsonify({"error": message, **extra})
    elif request_ctx.url_adapter is None:  # an untrusted Host: no URL can be built for a page
        response = Response(message, mimetype="text/plain")
    else:
        user_without_lookup()
        response = render_template("error.html", code=status, message=message)
    response = (
        (response, status) if retry_after is None else (response, status, {"Retry-After": str(retry_after)})
    )
    return response


def status_of(exc: errors.ServiceError) -> int:
    """The HTTP status of a domain error."""
    return next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)


def _service_error(exc: errors.ServiceError):
    extra = {key: extra_json(value) for key, value in exc.extra.items()}
    return error_response(exc.message, status_of(exc), getattr(exc, "retry_after", None), **extra)


def _csrf_error(exc: CSRFError):
    return error_response(f"The request was refused: {exc.description} Reload the page and try again.", 400)


def _too_large(_exc):
    return error_response(request_too_large_message(), 413)


def _database_error(exc: OperationalError):
    _rollback()
    trouble, cause = database_trouble(exc)
    if trouble == "lock":
        log.warning("database lock timeout: %s", cause)
        return error_response(
            "The database is busy; nothing was changed. Try again in a moment.", 503, RETRY_AFTER_BUSY
        )
    if trouble == "disk full":
        log.error("database write failed, the disk is full: %s", cause)
        return error_response(f"{DISK_FULL}. Nothing was changed.", 507)
    log.error("database error: %s", cause, exc_info=exc)
    return error_response("The database reported an error; the details are in the server's log", 500)


def database_trouble(exc: OperationalError) -> tuple[str, str]:
    """("lock" | "disk full" | "other", the driver's words) for a database error."""
    orig = exc.orig if exc.orig is not None else exc
    cause = str(orig).strip()
    code = getattr(orig, "sqlite_errorname", "") or ""  # SQLITE_BUSY, SQLITE_FULL, ... (Python 3.11+)
    state = getattr(orig, "sqlstate", None)  # psycopg
    words = cause.lower()
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or state in LOCK_SQLSTATES:
        return "lock", cause
    if code.startswith("SQLITE_FULL") or state in DISK_FULL_SQLSTATES:
        return "disk full", cause
    if any(w in words for w in LOCK_TIMEOUT_WORDS):
        return "lock", cause
    if any(w in words for w in DISK_FULL_WORDS):
        return "disk full", cause
    return "other", cause


def _os_error(exc: OSError):
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        _rollback()
        log.error("disk full: %s", exc)
        return error_response(DISK_FULL, 507)
    return _unexpected_error(exc)


def _http_error(exc: HTTPException):
    reply = error_response(exc.description or exc.name, exc.code or 500)
    allowed = getattr(exc, "valid_methods", None)
    if allowed:  # a 405 names the methods the URL takes (RFC 9110 requires the Allow header)
        return (*reply, {"Allow": ", ".join(sorted(allowed))})
    return reply


def _unexpected_error(exc: Exception):
    _rollback()
    log.exception("unexpected error", exc_info=exc)
    return error_response("Something went wrong on the server; the details are in its log", 500)


def _rollback() -> None:
    # The reply must come even when the database itself is what failed (a lost connection cannot roll back).
    try:
        db.session.rollback()
    except Exception:
        log.exception("rolling back after an error failed too")
