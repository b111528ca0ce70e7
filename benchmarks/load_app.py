"""The app side of benchmarks/bench_load.py: start `python -m webapp`, prepare a model, verify the store."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.accounts import config_from_env, make_admin  # noqa: E402
from tests.live import app_env, wait_until  # noqa: E402

# Every request of the benchmark signs in as the app's admin (an API token made in start_app).
AUTH: dict[str, str] = {}


def session() -> requests.Session:
    """A requests session that carries the admin's token."""
    made = requests.Session()
    made.headers.update(AUTH)
    return made


def _sign_in(env: dict) -> None:
    from webapp import create_app

    AUTH["Authorization"] = f"Bearer {make_admin(create_app(config_from_env(env)))}"


def start_app(env: dict, port: int, log: Path) -> subprocess.Popen:
    """`python -m webapp` on port, once it answers and its worker beats."""
    args = [sys.executable, "-m", "webapp", "--port", str(port)]
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )

    def up() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited; see {log}")
        try:
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()["worker"] == "ok"
        except (requests.RequestException, ValueError):
            return False

    wait_until(up, 180, "the app (and its worker) did not come up")
    _sign_in(env)
    return proc


def prepare(base: str, photo: Callable[[int], bytes]) -> int:
    """12 labeled photos and one small trained run (the active model); its id."""
    for n in range(12):
        label = "beer" if n % 2 else "wings"
        files = {"files": (f"seed{n}.jpg", photo(n))}
        assert session().post(base + "/api/v1/photos", files=files, data={"label": label}, timeout=60).ok
    run = session().post(base + "/api/v1/runs", json={"epochs": 2, "batch_size": 8}, timeout=60).json()
    done = wait_until(
        lambda: (
            (r := session().get(f"{base}/api/v1/runs/{run['id']}", timeout=30).json())["status"]
            in ("succeeded", "failed", "cancelled")
            and r
        ),
        900,
        "the preparation run did not finish",
    )
    assert done["status"] == "succeeded", done["error"]
    return run["id"]


def verify(env: dict, acked: list[tuple[int, str]]) -> None:
    """Every acknowledged upload has its row, and its original file hashes to the SHA-256 the client sent."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("WEBAPP_")})
    from sqlalchemy import func, select

    from webapp import create_app
    from webapp.db import db
    from webapp.db.models import Photo, Prediction, active_run_id
    from webapp.photostore.storage import StoreSettings, original_path

    app = create_app()
    with app.app_context():
        settings = StoreSettings.from_config(app.config)
        rows = {r.id: r for r in db.session.scalars(select(Photo).where(Photo.id.in_([i for i, _ in acked])))}
        lost = [(i, sha) for i, sha in acked if i not in rows or rows[i].sha256 != sha]
        on_disk = {i: original_path(settings, sha, rows[i].format) for i, sha in acked if i in rows}
        damaged = [
            i
            for i, sha in acked
            if i in on_disk and hashlib.sha256(on_disk[i].read_bytes()).hexdigest() != sha
        ]
        pending = app.extensions["huey"].pending_count()
        predicted = select(Prediction.photo_id).where(
            Prediction.run_id == active_run_id(), Prediction.photo_id == Photo.id
        )
        waiting = db.session.scalar(select(func.count()).select_from(Photo).where(~predicted.exists()))
        db.session.remove()
    print(f"\nacknowledged uploads: {len(acked)}; lost: {len(lost)}; originals not matching: {len(damaged)}")
    print(f"jobs still queued after the load: {pending}; photos still waiting for background work: {waiting}")


def backend_env(backend: str, image_size: int, instance: Path) -> tuple[dict, Callable[[], None]]:
    """The app's environment (CSRF off: a script client) and a clean-up; pg: a fresh schema, Redis emptied."""
    env = app_env(instance, WEBAPP_WTF_CSRF_ENABLED="false", WEBAPP_IMAGE_SIZE=str(image_size))
    if backend == "sqlite":
        return env, lambda: None
    import redis
    from sqlalchemy import create_engine, text

    pg = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    queue = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(pg)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    redis.Redis.from_url(queue).flushdb()
    env.update(WEBAPP_DATABASE_URL=f"{pg}?options=-csearch_path%3D{schema}", WEBAPP_QUEUE_URL=queue)

    def clean_up():
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        redis.Redis.from_url(queue).flushdb()

    return env, clean_up
