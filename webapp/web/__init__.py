"""The web process: blueprints (pages, /api/v1, media, health), security and error replies.

Views parse the request, call a service and render or return JSON. The web side never imports webapp.worker
or webapp.ml (an import-linter contract checks it), so it starts fast and never loads TensorFlow.
"""

from flask import Flask, request
from werkzeug.routing import IntegerConverter

from webapp.db.setup import read_only

MAX_ID = 2**63 - 1
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def init_app(app: Flask) -> None:
    """Register every blueprint, the security layer and the error handlers."""
    from webapp.web import (
        api_accounts,
        api_classes,
        api_imports,
        api_photos,
        api_runs,
        api_suggestions,
        api_weights,
        auth,
        auth_pages,
        errors,
        health,
        media,
        openapi,
        pages,
        security,
    )

    app.url_map.converters["id"] = IdConverter
    app.before_request(_readers_take_no_lock)  # first: signing in reads the database too
    _set_up_proxy_and_hosts(app)
    security.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    for module in (
        pages,
        auth_pages,
        api_classes,
        api_photos,
        api_imports,
        api_runs,
        api_suggestions,
        api_weights,
        api_accounts,
        openapi,
        media,
        health,
    ):
        app.register_blueprint(module.bp)
    from webapp.web import admission  # uploads take a slot; reads keep the other threads

    admission.init_app(app)
    app.teardown_request(_end_reading)


def _set_up_proxy_and_hosts(app: Flask) -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    from webapp.web.hosts import trusted_hosts

    if app.config["PROXY_FIX"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)
    # Any other Host header gets 400: a page on another site cannot reach the app by DNS rebinding.
    app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config["LISTEN_HOST"] or "", app.config["TRUSTED_HOSTS"])


def up_to(limit: int) -> str:
    """A regex of the decimal numbers from 1 to limit (leading zeros allowed)."""
    digits = str(limit)
    shorter = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    same = [
        f"{digits[:i]}[{'1' if i == 0 else '0'}-{int(d) - 1}][0-9]{{{len(digits) - i - 1}}}"
        for i, d in enumerate(digits)
        if int(d) > (1 if i == 0 else 0)
    ]
    return f"0*(?:{'|'.join([*shorter, *same, digits])})"


class IdConverter(IntegerConverter):
    """A database id in a URL: a whole number the database can hold (larger ones are simply not found)."""

    # Only 1..MAX_ID match at all: a value the converter refused after matching made werkzeug answer 405 to
    # PATCH/DELETE /photos/0 (it had seen the GET rule), where 404 is right.
    regex = up_to(MAX_ID)

    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, min=1, max=MAX_ID)


def _readers_take_no_lock() -> None:
    # GETs only read: in SQLite's WAL mode they then never wait behind a writer's lock.
    if request.method in SAFE_METHODS:
        request.environ["webapp.read_token"] = read_only.set(True)


def _end_reading(_exc=None) -> None:
    token = request.environ.pop("webapp.read_token", None)
    if token is not None:
        read_only.reset(token)
