"""The photo labeling and training app: create_app and nothing that runs at import time."""

import os
from pathlib import Path

from flask import Flask

from webapp import config as config_module
from webapp.config import REPO_ROOT


def create_app(test_config: dict | None = None) -> Flask:
    """Build the Flask app: defaults, then instance/config.py, then WEBAPP_* env, then test_config."""
    instance_path = Path(
        (test_config or {}).get("INSTANCE_PATH")
        or os.environ.get("WEBAPP_INSTANCE_PATH")
        or config_module.DEFAULTS["INSTANCE_PATH"]
    ).resolve()
    instance_path.mkdir(parents=True, exist_ok=True)
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        instance_relative_config=True,
        template_folder=str(REPO_ROOT / "templates"),
        static_folder=str(REPO_ROOT / "static"),
    )
    _load_config(app, test_config, instance_path)
    _init_subsystems(app)
    return app


def _load_config(app: Flask, test_config: dict | None, instance_path: Path) -> None:
    app.config.from_mapping(config_module.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("WEBAPP")
    if test_config:
        app.config.from_mapping(test_config)
    app.config["INSTANCE_PATH"] = str(instance_path)
    config_module.normalise(app.config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config_module.load_secret_key(instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = (
        app.config["DATABASE_URL"] or f"sqlite:///{instance_path / 'app.db'}"
    )
    # Requests may carry a zip of a whole dataset; single photos are checked against MAX_UPLOAD_BYTES.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_ZIP_BYTES"]


def _init_subsystems(app: Flask) -> None:
    from webapp import cli, db, queue, services, web

    db.init_app(app)
    queue.init_app(app)  # before services: they attach the bodies of the jobs they run (zip imports)
    services.init_app(app)
    web.init_app(app)
    cli.init_app(app)
