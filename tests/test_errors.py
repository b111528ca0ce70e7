"""Database errors told apart (webapp/web/errors.py): a lock not had in time is 503 + Retry-After, a full disk
507 in plain words, anything else 500 with its cause in the log; error pages render without the database.

Every error here is real: another connection holding the write lock, SQLite's own page limit, a missing table,
a database file that is not one.
"""

import logging
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text

from tests.accounts import token_client
from tests.test_api_classes import assert_json_error
from tests.test_scale_out import pg_url  # noqa: F401 (a fixture)
from webapp import create_app
from webapp.db import db

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def class_names(client) -> list[str]:
    response = client.get("/api/v1/classes")
    assert response.status_code == 200
    return [c["name"] for c in response.get_json()]


def database_file(app) -> Path:
    return Path(app.config["INSTANCE_PATH"]) / "app.db"


@pytest.fixture
def app_config(app_config):
    """A short busy timeout, so a held lock turns into an error at once."""
    return {**app_config, "SQLITE_BUSY_TIMEOUT_MS": 50}


def test_a_held_write_lock_is_503_with_retry_after(app, client):
    holder = sqlite3.connect(database_file(app), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        response = client.post("/api/v1/classes", json={"name": "pizza"})
        message = assert_json_error(response, 503)["error"]
        assert "busy" in message and "nothing was changed" in message
        assert int(response.headers["Retry-After"]) > 0
        assert class_names(client) == ["beer", "wings"]  # readers never wait for the lock (WAL)
    finally:
        holder.rollback()
        holder.close()
    assert client.post("/api/v1/classes", json={"name": "pizza"}).status_code == 201


def test_a_full_disk_is_507_saying_so(app, client):
    # SQLite's own size cap gives the real SQLITE_FULL ("database or disk is full") a full disk gives.
    with app.app_context():
        pages = db.session.execute(text("PRAGMA page_count")).scalar_one()
        engine = db.engine
        db.session.remove()

    @event.listens_for(engine, "connect")
    def _cap(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    engine.dispose()
    created = []
    for i in range(1000):
        name = f"{i:04d} " + "x" * 55
        response = client.post("/api/v1/classes", json={"name": name})
        if response.status_code != 201:
            break
        created.append(name)
    message = assert_json_error(response, 507)["error"]
    assert "disk is full" in message.lower() and "nothing was changed" in message.lower()
    assert "Retry-After" not in response.headers
    assert class_names(client) == ["beer", "wings", *created]  # what was stored before is all there


def test_other_database_errors_are_500_with_the_cause_logged(app, client, caplog):
    with sqlite3.connect(database_file(app), isolation_level=None) as other:
        other.execute("ALTER TABLE label_class RENAME TO label_class_gone")
    with caplog.at_level(logging.ERROR, logger="webapp.web.errors"):
        for response in (client.get("/api/v1/classes"), client.post("/api/v1/classes", json={"name": "x"})):
            message = assert_json_error(response, 500)["error"]
            assert "busy" not in message and "log" in message
            assert "Retry-After" not in response.headers
    assert "no such table: label_class" in caplog.text


def test_error_pages_render_while_the_database_is_unusable(app, client):
    with sqlite3.connect(database_file(app), isolation_level=None) as other:
        other.execute("ALTER TABLE label_class RENAME TO label_class_gone")
    for url, status in [("/", 500), ("/classes", 500), ("/no-such-page", 404), ("/runs/12345", 404)]:
        response = client.get(url, headers=BROWSER)
        assert response.status_code == status, url
        assert response.mimetype == "text/html"
        html = response.get_data(as_text=True)
        assert 'data-page="error"' in html and 'id="error-message"' in html


def test_error_pages_render_when_the_database_file_is_not_a_database(app, client):
    with app.app_context():
        db.engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{database_file(app)}{suffix}").unlink(missing_ok=True)
    database_file(app).write_bytes(b"this is not a database " * 500)
    for url, status in [("/", 500), ("/no-such-page", 404)]:
        response = client.get(url, headers=BROWSER)
        assert response.status_code == status and 'data-page="error"' in response.get_data(as_text=True)
    assert_json_error(client.get("/api/v1/classes"), 500)


# ---------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg_app(pg_url, tmp_path):  # noqa: F811 (the fixture imported above)
    """An app on PostgreSQL whose statements give up on a lock after 200 ms."""
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"{pg_url}%20-clock_timeout%3D200",
            "WTF_CSRF_ENABLED": False,
            "BACKBONE_WEIGHTS": "none",
            "IMAGE_SIZE": 32,
            "SECRET_KEY": "test",
        }
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_lock_timeout_on_postgresql_is_503(pg_app, pg_url):  # noqa: F811
    client = token_client(pg_app)
    engine = create_engine(pg_url)
    try:
        with engine.begin() as holder:
            holder.execute(text("LOCK TABLE label_class IN ACCESS EXCLUSIVE MODE"))
            response = client.post("/api/v1/classes", json={"name": "pizza"})
            assert_json_error(response, 503)
            assert int(response.headers["Retry-After"]) > 0
    finally:
        engine.dispose()
    assert client.post("/api/v1/classes", json={"name": "pizza"}).status_code == 201
    assert class_names(client) == ["beer", "wings", "pizza"]
