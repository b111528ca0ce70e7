"""The scale-out path: PostgreSQL for the database and Redis for the queue, with a real worker."""

import os
import socket
import uuid

import pytest
from sqlalchemy import create_engine, text

from tests.accounts import token_client
from tests.live import LiveApp, app_env
from tests.test_worker import upload_labeled, wait_run

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


def _reachable(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _require(port: int, what: str) -> None:
    if not _reachable(port):
        if os.environ.get("CI"):
            pytest.fail(f"{what} is not running on 127.0.0.1:{port} (.ci/run should have started it)")
        pytest.skip(f"{what} is not running on 127.0.0.1:{port}")


@pytest.fixture
def pg_url():
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    _require(5432, "PostgreSQL")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture
def redis_url():
    """A Redis database emptied for the test."""
    _require(6379, "Redis")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


def test_app_runs_on_postgresql(pg_url, tmp_path):
    from webapp import create_app

    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": pg_url,
            "WTF_CSRF_ENABLED": False,
            "BACKBONE_WEIGHTS": "none",
            "IMAGE_SIZE": 32,
        }
    )
    client = token_client(app)
    names = sorted(c["name"] for c in client.get("/api/v1/classes").get_json())
    assert names == ["beer", "wings"]
    assert client.post("/api/v1/classes", json={"name": "pizza"}).status_code == 201
    assert client.post("/api/v1/classes", json={"name": "Pizza"}).status_code == 409
    with app.app_context():
        from webapp.db import db

        assert db.engine.dialect.name == "postgresql"
        db.session.remove()
        db.engine.dispose()


@pytest.mark.slow
def test_train_with_postgresql_and_redis(pg_url, redis_url, tmp_path):
    live = LiveApp(
        tmp_path,
        app_env(
            tmp_path, WEBAPP_WTF_CSRF_ENABLED="false", WEBAPP_DATABASE_URL=pg_url, WEBAPP_QUEUE_URL=redis_url
        ),
    )
    try:
        live.start()
        upload_labeled(live, per_class=6)
        health = live.get("/healthz").json()
        assert health["database"] == "ok" and health["queue"] == "ok"
        live.wait_for_worker()
        run = live.post("/api/v1/runs", json={"epochs": 10, "batch_size": 8}).json()
        done = wait_run(live, run["id"])
        assert done["status"] == "succeeded", done["error"]
        assert live.get(f"/api/v1/runs/{run['id']}/predictions").json()["total"] == 12
    finally:
        live.stop()
