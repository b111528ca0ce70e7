"""Derived photo copies (never the originals), served with long-lived cache headers."""

from flask import Blueprint, send_file

from webapp.services.media import derived_copy

bp = Blueprint("media", __name__, url_prefix="/media")
ONE_YEAR = 365 * 24 * 3600


def _send(kind: str, sha: str):
    response = send_file(derived_copy(kind, sha), mimetype="image/jpeg", conditional=True, max_age=ONE_YEAR)
    response.cache_control.immutable = True
    response.cache_control.public = True
    return response


@bp.get("/display/<sha>.jpg")
def display(sha: str):
    """The display-size copy (long side 1280), metadata stripped."""
    return _send("display", sha)


@bp.get("/thumbs/<sha>.jpg")
def thumbnail(sha: str):
    """The thumbnail (long side 320), metadata stripped."""
    return _send("thumbnail", sha)
