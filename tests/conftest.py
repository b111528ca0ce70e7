"""Shared fixtures: an app on a temporary instance folder per test, its client and CLI runner."""

import pytest

from webapp import create_app


@pytest.fixture
def instance_path(tmp_path):
    """A fresh instance folder."""
    path = tmp_path / "instance"
    path.mkdir()
    return path


@pytest.fixture
def app_config(instance_path):
    """Config for a test app: small model input, random backbone, CSRF off (test_security turns it on)."""
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance_path),
        "BACKBONE_WEIGHTS": "none",
        "IMAGE_SIZE": 32,
        "WTF_CSRF_ENABLED": False,
        "SECRET_KEY": "test",
    }


@pytest.fixture
def app(app_config):
    """The app, migrated and seeded, on its own instance folder."""
    app = create_app(app_config)
    yield app
    with app.app_context():
        from webapp.db import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """Flask's test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Flask's CLI runner."""
    return app.test_cli_runner()
