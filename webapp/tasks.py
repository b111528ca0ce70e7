"""The task queue (Huey): set-up, the tasks the web side enqueues, and worker liveness.

TensorFlow is never imported here: task bodies live in webapp.jobs, which imports webapp.ml lazily.
"""

import functools
import logging
import os
import socket
import threading
from datetime import timedelta
from pathlib import Path

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey
from sqlalchemy import delete, select

from .extensions import db
from .models import WorkerBeat, utcnow

log = logging.getLogger(__name__)
BEAT_SECONDS = 5
ALIVE_SECONDS = 20


def init_app(app: Flask) -> None:
    """Create the app's Huey instance and register its tasks."""
    huey = make_huey(app.config, Path(app.instance_path))
    app.extensions["huey"] = huey
    app.extensions["webapp_tasks"] = _register(app, huey)
    huey.on_startup(name="webapp_worker_start")(functools.partial(_on_worker_start, app))


def make_huey(config, instance_path: Path):
    """SqliteHuey in the instance folder by default, RedisHuey for redis:// URLs."""
    url = config.get("QUEUE_URL")
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("webapp", url=url)
    if url and url.startswith("sqlite:///"):
        return SqliteHuey("webapp", filename=url.removeprefix("sqlite:///"))
    if url:
        raise ValueError(f"WEBAPP_QUEUE_URL must be a redis:// or sqlite:/// URL, not {url!r}")
    return SqliteHuey("webapp", filename=str(instance_path / "queue.db"))


def _register(app: Flask, huey) -> dict:
    from . import jobs

    tasks = {}
    for func in (
        jobs.train_run,
        jobs.process_new_photos,
        jobs.predict_image,
        jobs.predict_run,
        jobs.export_tflite,
    ):
        tasks[func.__name__] = huey.task(name=func.__name__)(_in_app_context(app, func))
    return tasks


def _in_app_context(app: Flask, func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with app.app_context():
            try:
                return func(*args, **kwargs)
            finally:
                db.session.remove()

    return wrapper


def task(name: str):
    """The registered task called name."""
    return current_app.extensions["webapp_tasks"][name]


def enqueue_training(run_id: int):
    """Queue the training of a run."""
    return task("train_run")(run_id)


def enqueue_new_photos(photo_ids: list[int]) -> None:
    """Queue feature computation and active-model predictions for freshly stored photos."""
    try:
        task("process_new_photos")(photo_ids)
    except Exception:  # the photos are stored either way; Train computes missing features itself
        log.exception("could not queue background work for new photos")


def enqueue_predictions(run_id: int) -> None:
    """Queue predicting every photo with a run's model (best effort: the pin itself already holds)."""
    try:
        task("predict_run")(run_id)
    except Exception:
        log.exception("could not queue predictions for run %s", run_id)


def _on_worker_start(app: Flask) -> None:
    # Forked worker processes must not reuse the parent's database connections.
    with app.app_context():
        db.engine.dispose(close=False)
        from . import jobs

        jobs.recover_dead_runs()
        db.session.remove()
    from .worker import start_heartbeat

    start_heartbeat(app)
    threading.Thread(target=_warm_up, daemon=True).start()


def _warm_up() -> None:
    # The first task otherwise pays the TensorFlow import (~4 s).
    from . import jobs

    jobs.warm_up()


def worker_name() -> str:
    """host:pid of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(name: str) -> None:
    """Record that the worker called name is alive."""
    db.session.execute(delete(WorkerBeat).where(WorkerBeat.beat_at < utcnow() - timedelta(hours=1)))
    row = db.session.get(WorkerBeat, name)
    if row is None:
        db.session.add(WorkerBeat(name=name))
    else:
        row.beat_at = utcnow()
    db.session.commit()


def live_workers() -> list[str]:
    """Names of workers that beat recently."""
    since = utcnow() - timedelta(seconds=ALIVE_SECONDS)
    rows = db.session.scalars(select(WorkerBeat.name).where(WorkerBeat.beat_at >= since))
    return list(rows)


def worker_status() -> str:
    """ "ok" when a worker beat recently, "missing" otherwise."""
    try:
        return "ok" if live_workers() else "missing"
    except Exception as exc:  # health must report, not fail
        return f"error: {exc.__class__.__name__}"


def queue_status() -> str:
    """ "ok" when the queue's storage answers."""
    try:
        current_app.extensions["huey"].pending_count()
        return "ok"
    except Exception as exc:  # health must report, not fail
        return f"error: {exc.__class__.__name__}"
