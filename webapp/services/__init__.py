"""Services: the app's operations as plain functions the web side and the CLI share.

They return data and raise the domain errors of webapp.services.errors; they never build URLs or HTTP replies.
"""

from pathlib import Path

from flask import Flask, current_app

from webapp.photostore.storage import StoreSettings


def init_app(app: Flask) -> None:
    """Create the first-start data (the configured classes) once; attach the jobs services run."""
    from webapp.db import db
    from webapp.db.setup import migration_lock
    from webapp.services import import_jobs
    from webapp.services.classes import seed_classes
    from webapp.services.runs import ensure_train_lock

    import_jobs.init_app(app)

    with app.app_context(), migration_lock(Path(app.instance_path)):
        seed_classes(app.config["CLASSES"])
        ensure_train_lock()
        db.session.remove()


def instance_path() -> Path:
    """The instance folder of the current app."""
    return Path(current_app.config["INSTANCE_PATH"])


def store_settings() -> StoreSettings:
    """Photo store settings from the current app's config."""
    return StoreSettings.from_config(current_app.config)
