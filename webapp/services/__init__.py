"""Services: the app's operations as plain functions the views and CLI share."""

from pathlib import Path

from flask import current_app

from ..storage import StoreSettings


class ServiceError(Exception):
    """A user-facing failure: plain words and the HTTP status that fits."""

    def __init__(self, message: str, status: int = 400, **extra):
        super().__init__(message)
        self.message = message
        self.status = status
        self.extra = extra


def instance_path() -> Path:
    """The instance folder of the current app."""
    return Path(current_app.config["INSTANCE_PATH"])


def store_settings() -> StoreSettings:
    """Photo store settings from the current app's config."""
    cfg = current_app.config
    return StoreSettings(
        root=instance_path() / "photos",
        model_size=cfg["IMAGE_SIZE"],
        max_pixels=cfg["MAX_IMAGE_PIXELS"],
        max_bytes=cfg["MAX_UPLOAD_BYTES"],
    )
