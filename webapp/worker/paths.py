"""Where the worker finds things: the instance folder and the photo store, from the app's config."""

from pathlib import Path

from flask import current_app

from webapp.photostore import storage
from webapp.photostore.storage import StoreSettings


def instance_path() -> Path:
    """The instance folder of the current app."""
    return Path(current_app.config["INSTANCE_PATH"])


def image_loader(fmt_by_sha: dict[str, str], side: int):
    """A function sha -> the uint8 model input at this side (re-derived from the original if missing)."""
    settings = StoreSettings.from_config(current_app.config)

    def load(sha: str):
        return storage.load_model_input(settings, sha, fmt_by_sha[sha], side)

    return load
