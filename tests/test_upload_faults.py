"""Uploads under faults: a held database lock, a full disk, a NUL in a file name on PostgreSQL.

Each file's outcome is told on its own; a file that fails leaves nothing behind (no file without a row, no row
without its files); files stored before it stay stored.
"""

import hashlib
import sqlite3
from pathlib import Path

import pytest

from tests import disk as disk_module
from tests.accounts import token_client
from tests.images import class_photo, noisy_jpeg
from tests.multipart import post_files
from tests.test_scale_out import pg_url  # noqa: F401 - a fixture
from webapp.photostore import imaging

small_disk = disk_module.small_disk  # the fixture


def jpeg(i: int) -> bytes:
    return class_photo(0, i, size=(48, 36))


def upload(client, *files, **form):
    return post_files(client, "/api/v1/photos", list(files), **form)


def rows(app) -> dict[str, str]:
    """sha256 -> format of every photo row."""
    from sqlalchemy import select

    from webapp.db import db
    from webapp.db.models import Photo

    with app.app_context():
        found = {sha: fmt for sha, fmt in db.session.execute(select(Photo.sha256, Photo.format))}
        db.session.remove()
    return found


def assert_store_matches_rows(app) -> None:
    """Every stored file belongs to a row, every row has its original and copies, nothing half-written."""
    from webapp.photostore import storage

    settings = storage.StoreSettings.from_config(app.config)
    root = Path(settings.root)
    files = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    assert not [p for p in files if p.name.startswith(".tmp-")], "temporary files left behind"
    by_row = rows(app)
    orphans = [p for p in files if p.name.split(".")[0] not in by_row]
    assert orphans == [], "files without a row"
    for sha, fmt in by_row.items():
        for path in (
            storage.original_path(settings, sha, fmt),
            storage.display_path(settings, sha),
            storage.thumbnail_path(settings, sha),
            storage.model_input_path(settings, sha),
        ):
            assert path.exists(), f"row {sha[:8]} lacks {path.parent.parent.name}"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- a held write lock (defect 16)


class WriteLock:
    """Another process's view of the database: a connection holding SQLite's write lock (BEGIN IMMEDIATE)."""

    def __init__(self, app):
        self.path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
        self.connection = None

    def take(self) -> None:
        self.connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.connection.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        if self.connection is not None:
            self.connection.execute("ROLLBACK")
            self.connection.close()
            self.connection = None


@pytest.fixture
def locked_app(make_app):
    app = make_app(SQLITE_BUSY_TIMEOUT_MS=200)
    lock = WriteLock(app)
    yield app, lock
    lock.release()


def test_lock_taken_mid_upload_fails_only_the_files_after_it(locked_app, monkeypatch):
    # issue 8 defect 16: with the database locked, a 3-file upload answered 503 "nothing was changed" after
    # committing one photo, and left the files of the others on disk
    app, lock = locked_app
    client = token_client(app)
    real_derive, calls = imaging.derive_all, []

    def derive_then_lock(*args, **kwargs):  # the lock arrives while the 2nd photo is being processed
        calls.append(1)
        if len(calls) == 2:
            lock.take()
        return real_derive(*args, **kwargs)

    monkeypatch.setattr(imaging, "derive_all", derive_then_lock)
    files = [(jpeg(1), "a.jpg"), (jpeg(2), "b.jpg"), (jpeg(3), "c.jpg")]
    response = upload(client, *files)
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["stored", "rejected", "rejected"]
    assert results[0]["photo"]["filename"] == "a.jpg"
    assert "database is busy" in results[1]["error"] and results[1]["retryable"]
    assert "not tried" in results[2]["error"] and results[2]["retryable"]
    lock.release()
    assert set(rows(app)) == {sha(jpeg(1))}
    assert_store_matches_rows(app)
    monkeypatch.undo()
    again = upload(client, *files[1:]).get_json()["results"]  # once the lock is gone, a retry stores them
    assert [r["status"] for r in again] == ["stored", "stored"]
    assert_store_matches_rows(app)


def test_upload_while_locked_is_503_per_file_and_stores_nothing(locked_app):
    app, lock = locked_app
    client = token_client(app)
    kept = upload(client, (jpeg(1), "a.jpg")).get_json()["results"][0]
    lock.take()
    response = upload(client, (jpeg(2), "b.jpg"), (jpeg(3), "c.jpg"))
    assert response.status_code == 503 and response.headers["Retry-After"]
    body = response.get_json()
    assert "database is busy" in body["error"]
    assert [r["status"] for r in body["results"]] == ["rejected", "rejected"]
    lock.release()
    assert set(rows(app)) == {kept["photo"]["sha256"]}
    assert_store_matches_rows(app)


def test_duplicate_while_locked_is_still_recognised(locked_app):
    app, lock = locked_app
    client = token_client(app)
    upload(client, (jpeg(1), "a.jpg"))
    lock.take()
    response = upload(client, (jpeg(1), "again.jpg"), (jpeg(2), "b.jpg"))
    assert response.status_code == 200
    assert [r["status"] for r in response.get_json()["results"]] == ["duplicate", "rejected"]
    lock.release()
    assert_store_matches_rows(app)


# ---------------------------------------------------------------- a full disk (defect 19, uploads)


def test_disk_full_fails_only_the_file_that_does_not_fit(small_disk, make_app):
    # issue 8 defect 19: 56 of 60 uploads got 500 "Something went wrong" and files were left behind
    instance = small_disk(4096)
    app = make_app(INSTANCE_PATH=str(instance))
    client = token_client(app)
    assert upload(client, (jpeg(1), "earlier.jpg")).status_code == 200
    big = noisy_jpeg(1600, 1200, seed=3, exif_orientation=None)
    disk_module.fill(instance, leave_bytes=len(big) // 2)
    response = upload(client, (big, "big.jpg"), (jpeg(2), "small.jpg"))
    assert response.status_code == 200, response.get_json()
    big_result, small_result = response.get_json()["results"]
    assert big_result["status"] == "rejected" and big_result["retryable"]
    assert big_result["error"].startswith("The disk is full; this file was not stored")
    assert small_result["status"] == "stored"
    assert set(rows(app)) == {sha(jpeg(1)), sha(jpeg(2))}
    assert_store_matches_rows(app)


def test_disk_full_for_every_file_is_507(small_disk, make_app):
    instance = small_disk(4096)
    app = make_app(INSTANCE_PATH=str(instance))
    client = token_client(app)
    assert upload(client, (jpeg(1), "earlier.jpg")).status_code == 200
    disk_module.fill(instance, leave_bytes=16384)
    big = noisy_jpeg(1200, 900, seed=4, exif_orientation=None)
    response = upload(client, (big, "big.jpg"))
    assert response.status_code == 507
    assert response.get_json()["error"].startswith("The disk is full")
    assert set(rows(app)) == {sha(jpeg(1))}
    assert_store_matches_rows(app)


# ---------------------------------------------------------------- names (defect 13, on PostgreSQL)


def test_nul_in_a_file_name_on_postgresql(pg_url, make_app):  # noqa: F811 - the fixture
    # issue 8 defect 13: a NUL in an upload's file name gave 500 on PostgreSQL and left 4 orphan files
    app = make_app(DATABASE_URL=pg_url)
    client = token_client(app)
    response = upload(client, (jpeg(1), "be\x00er.jpg"), (jpeg(2), "ok.jpg"))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["stored", "stored"]
    assert results[0]["photo"]["filename"] == "beer.jpg"
    assert_store_matches_rows(app)


def test_control_and_bidi_characters_are_dropped_from_names(client):
    files = [(jpeg(1), "photo\u202egpj.exe"), (jpeg(2), "tab\there\x7f.jpg"), (jpeg(3), "\x00\x01")]
    results = upload(client, *files).get_json()["results"]
    assert [r["photo"]["filename"] for r in results] == ["photogpj.exe", "tabhere.jpg", "photo"]
