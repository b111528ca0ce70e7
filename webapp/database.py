"""Database set-up: engine tuning for SQLite, migrations applied on start, first-start seed data."""

import fcntl
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from .extensions import db, migrate
from .models import AppSetting, LabelClass

MIGRATIONS_DIR = str(Path(__file__).parent / "migrations")
PALETTE = ["#d97706", "#2563eb", "#16a34a", "#db2777", "#7c3aed", "#0891b2", "#dc2626", "#65a30d", "#475569"]


def init_app(app: Flask) -> None:
    """Bind SQLAlchemy and Flask-Migrate, tune SQLite, migrate and seed the database."""
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _tune_sqlite(db.engine)
        if not app.config.get("SKIP_MIGRATIONS"):
            with _migration_lock(Path(app.instance_path)):
                upgrade(directory=MIGRATIONS_DIR)
                seed_classes(app.config["CLASSES"])
                seed_settings()
            db.session.remove()


def _tune_sqlite(engine: Engine) -> None:
    # pysqlite's own BEGIN is deferred: a read-then-write transaction then fails with "database is locked"
    # while another connection writes. BEGIN IMMEDIATE waits for the lock (busy_timeout) instead.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()


@contextmanager
def _migration_lock(instance_path: Path):
    # The web process and workers may start together; only one should run the migrations at a time.
    with open(instance_path / ".migrate.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def seed_classes(names: str) -> None:
    """Create the configured classes on the very first start (not again after a user deleted them)."""
    if db.session.get(AppSetting, "seeded"):
        return
    for index, name in enumerate(n.strip() for n in names.split(",") if n.strip()):
        if db.session.scalar(select(LabelClass).where(LabelClass.name == name)) is None:
            db.session.add(
                LabelClass(
                    name=name, color=PALETTE[index % len(PALETTE)], key=index + 1 if index < 9 else None
                )
            )
    db.session.add(AppSetting(key="seeded", value="1"))
    db.session.commit()


def seed_settings() -> None:
    """Rows other code relies on existing (the Train lock row)."""
    if db.session.get(AppSetting, "train_lock") is None:
        db.session.add(AppSetting(key="train_lock", value=""))
        db.session.commit()
