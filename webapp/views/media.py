"""Derived photo copies (never the originals), served with long-lived cache headers."""

import re

from flask import Blueprint, abort, send_file

from .. import storage
from ..services import store_settings

bp = Blueprint("media", __name__, url_prefix="/media")
SHA_RE = re.compile(r"^[0-9a-f]{64}$")
ONE_YEAR = 365 * 24 * 3600


def _send(path):
    if not path.is_file():
        abort(404, "No such photo")
    response = send_file(path, mimetype="image/jpeg", conditional=True, max_age=ONE_YEAR)
    response.cache_control.immutable = True
    response.cache_control.public = True
    return response


@bp.get("/display/<sha>.jpg")
def display(sha: str):
    """The display-size copy (long side 1280), metadata stripped."""
    if not SHA_RE.match(sha):
        abort(404, "No such photo")
    return _send(storage.display_path(store_settings(), sha))


@bp.get("/thumbs/<sha>.jpg")
def thumbnail(sha: str):
    """The thumbnail (long side 320), metadata stripped."""
    if not SHA_RE.match(sha):
        abort(404, "No such photo")
    return _send(storage.thumbnail_path(store_settings(), sha))
