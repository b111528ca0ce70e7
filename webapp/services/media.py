"""The derived copies a browser may see (display size and thumbnail); never the originals."""

import re
from pathlib import Path

from webapp.photostore import storage
from webapp.services import store_settings
from webapp.services.errors import NotFound

SHA_RE = re.compile(r"[0-9a-f]{64}")
COPIES = {"display": storage.display_path, "thumbnail": storage.thumbnail_path}


def derived_copy(kind: str, sha: str) -> Path:
    """The file of a photo's display copy or thumbnail, or NotFound."""
    # fullmatch, not match with "$": "$" also accepts a trailing newline (…%0A in a URL).
    if kind not in COPIES or not SHA_RE.fullmatch(sha):
        raise NotFound("No such photo")
    path = COPIES[kind](store_settings(), sha)
    if not path.is_file():
        raise NotFound("No such photo")
    return path
