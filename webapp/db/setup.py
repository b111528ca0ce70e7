"""Engine set-up: SQLite in WAL mode (writers lock up front, readers never wait), migrations on start."""

import contextvars
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import event
from sqlalchemy.engine import Engine

from webapp.db.base import db, migrate

MIGRATIONS_DIR = str(Path(__file__).parent / "migrations")
BUSY_TIMEOUT_MS = 30_000

# True while the current context only reads (the web side sets it for GET and HEAD requests).
read_only = contextvars.ContextVar("webapp_db_read_only", default=False)


def set_up(app: Flask) -> None:
    """Bind SQLAlchemy and Flask-Migrate, tune SQLite, and apply migrations under a file lock."""
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            tune_sqlite(db.engine, app.config.get("SQLITE_BUSY_TIMEOUT_MS", BUSY_TIMEOUT_MS))
        with migration_lock(Path(app.instance_path)):
            upgrade(directory=MIGRATIONS_DIR)
        db.session.remove()


def tune_sqlite(engine: Engine, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
    """WAL, a busy timeout, foreign keys; BEGIN IMMEDIATE for transactions that may write."""

    # pysqlite's own BEGIN is deferred: a read-then-write transaction then fails at once with "database is
    # locked" while another connection writes. BEGIN IMMEDIATE waits for the lock (busy_timeout) instead.
    # Read-only contexts keep a deferred BEGIN: in WAL mode readers never wait for a writer.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN" if read_only.get() else "BEGIN IMMEDIATE")

    engine.dispose()


@contextmanager
def reading() -> Iterator[None]:
    """Run the block's transactions as readers (no write lock is taken; a write in them fails)."""
    token = read_only.set(True)
    try:
        yield
    finally:
        read_only.reset(token)


@contextmanager
def migration_lock(instance_path: Path) -> Iterator[None]:
    """One process at a time migrates and seeds (the web process and workers may start together)."""
    with open(instance_path / ".migrate.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
