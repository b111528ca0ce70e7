"""The database: engine set-up (SQLite WAL, PostgreSQL), typed models and migrations. No HTTP, no queue."""

from flask import Flask

from webapp.db.base import db, migrate

__all__ = ["db", "init_app", "migrate"]


def init_app(app: Flask) -> None:
    """Bind SQLAlchemy and Flask-Migrate, tune SQLite, migrate and seed the database."""
    from webapp.db.setup import set_up

    set_up(app)
