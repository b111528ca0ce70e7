"""Blueprints: pages, the JSON API, media files and health."""

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from ..services import ServiceError

MAX_ID = 2**63 - 1


def init_app(app: Flask) -> None:
    """Register every blueprint and the error handlers."""
    from . import api_classes, api_photos, api_runs, health, media, pages

    app.url_map.converters["id"] = IdConverter

    for module in (pages, api_classes, api_photos, api_runs, media, health):
        app.register_blueprint(module.bp)
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_busy)
    app.register_error_handler(Exception, _unexpected_error)


class IdConverter(IntegerConverter):
    """A database id in a URL: a whole number the database can hold (larger ones are simply not found)."""

    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, min=1, max=MAX_ID)


def wants_json() -> bool:
    """Whether this request is an API call (errors then come back as JSON)."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(message: str, status: int, **extra):
    """An error as JSON for the API, or as a page for the browser."""
    if wants_json():
        return jsonify({"error": message, **extra}), status
    return render_template("error.html", code=status, message=message), status


def _service_error(exc: ServiceError):
    return error_response(exc.message, exc.status, **exc.extra)


def _csrf_error(exc: CSRFError):
    return error_response(f"The request was refused: {exc.description} Reload the page and try again.", 400)


def _too_large(_exc):
    from flask import current_app

    from ..storage import megabytes

    limit = megabytes(current_app.config["MAX_CONTENT_LENGTH"], round_up=False)
    return error_response(f"The upload is too large; the limit is {limit} MB per request", 413)


def _database_busy(exc: OperationalError):
    from ..extensions import db

    db.session.rollback()
    from flask import current_app

    current_app.logger.warning("database busy: %s", exc)
    return error_response("The database is busy; nothing was changed. Try again in a moment.", 503)


def _http_error(exc: HTTPException):
    return error_response(exc.description or exc.name, exc.code or 500)


def _unexpected_error(exc: Exception):
    from flask import current_app

    current_app.logger.exception("unexpected error")
    return error_response("Something went wrong on the server; the details are in its log", 500)
