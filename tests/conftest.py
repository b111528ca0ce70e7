"""Shared fixtures: an app on a temporary instance folder per test, its client and CLI runner."""

import pytest

from tests.accounts import make_admin, token_client
from tests.live import LiveApp, app_env
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
def make_app(app_config):
    """Build more apps on the same instance folder with config overrides; disposed afterwards."""
    apps = []

    def build(**overrides):
        made = create_app({**app_config, **overrides})
        apps.append(made)
        return made

    yield build
    from webapp.db import db

    for made in apps:
        with made.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def admin_token(app):
    """An API token of the test app's admin."""
    return make_admin(app)


@pytest.fixture
def client(app, admin_token):
    """Flask's test client, signed in as an admin through an API token."""
    return token_client(app, admin_token)


@pytest.fixture
def anon_client(app):
    """A client that has not signed in."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Flask's CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def live(tmp_path):
    """An app on a fresh instance as `python -m webapp` runs it, CSRF off, not yet started (the browser tests
    and a few modules define their own)."""
    app = LiveApp(tmp_path, app_env(tmp_path, WEBAPP_WTF_CSRF_ENABLED="false"))
    yield app
    app.stop()
