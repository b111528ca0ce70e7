"""The job queue (Huey), shared by both processes: set-up, job names, enqueueing.

The web side only enqueues. A worker process attaches the job bodies (webapp.worker) before it consumes, so
nothing here imports webapp.worker or TensorFlow. A *job* is queued work; a *run* is a training run (its own
row, see webapp.queue.runstate).
"""

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app
from huey import PriorityRedisHuey, SqliteHuey

from webapp.db import db

log = logging.getLogger(__name__)

# Job name -> Huey priority (higher runs first): a Train click never waits behind background upload work.
JOBS = {
    "train_run": 100,
    "predict_image": 90,
    "suggest": 80,  # a second's work that follows each label; below Train, which it never holds up
    "check_weights": 60,
    "export_tflite": 50,
    "import_zip": 30,
    "predict_run": 20,
    "process_new_photos": 10,
}


def init_app(app: Flask) -> None:
    """Create the app's Huey instance and declare its jobs (bodies are attached by a worker)."""
    huey = make_huey(app.config, Path(app.instance_path))
    app.extensions["huey"] = huey
    app.extensions["webapp_job_bodies"] = {}
    app.extensions["webapp_jobs"] = {
        name: huey.task(name=name, priority=priority)(_dispatcher(app, name))
        for name, priority in JOBS.items()
    }


# An unreachable Redis must fail a request in seconds, not hang it: bounded connects and reads. The consumer's
# blocking reads wait 1 s (huey's read_timeout), well inside the socket timeout.
REDIS_CONNECT_TIMEOUT = 3
REDIS_SOCKET_TIMEOUT = 5


def make_huey(config, instance_path: Path):
    """SqliteHuey in the instance folder by default, PriorityRedisHuey for redis:// (both have priorities)."""
    url = config.get("QUEUE_URL")
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        from redis import ConnectionPool

        pool = ConnectionPool.from_url(
            url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT, socket_timeout=REDIS_SOCKET_TIMEOUT
        )
        return PriorityRedisHuey("webapp", connection_pool=pool)
    if url and url.startswith("sqlite:///"):
        return SqliteHuey("webapp", filename=url.removeprefix("sqlite:///"))
    if url:
        raise ValueError(f"WEBAPP_QUEUE_URL must be a redis:// or sqlite:/// URL, not {url!r}")
    return SqliteHuey("webapp", filename=str(instance_path / "queue.db"))


def attach_bodies(app: Flask, bodies: dict[str, Callable]) -> None:
    """Give this process the functions that do the jobs (called by webapp.worker, never by the web side)."""
    unknown = set(bodies) - set(JOBS)
    if unknown:
        raise ValueError(f"unknown job(s): {', '.join(sorted(unknown))}")
    app.extensions["webapp_job_bodies"].update(bodies)
    nice = app.config["WORKER_NICE"]
    app.extensions["huey"].on_startup(name="webapp_worker_nice")(lambda: _lower_priority(nice))


def _lower_priority(nice: int) -> None:
    # Each worker process yields the CPU to the web server: feature computation for a stream of uploads can
    # use every core for minutes, and pages must stay quick meanwhile. An idle web server costs it nothing.
    try:
        os.nice(nice)
    except OSError:
        log.warning("could not lower the worker's CPU priority")


def _dispatcher(app: Flask, name: str) -> Callable:
    def run_job(*args, **kwargs):
        body = app.extensions["webapp_job_bodies"].get(name)
        if body is None:
            raise RuntimeError(
                f"This process cannot run the {name} job: start a worker (python -m webapp worker)"
            )
        with app.app_context():
            try:
                return body(*args, **kwargs)
            finally:
                db.session.remove()

    run_job.__name__ = run_job.__qualname__ = name
    return run_job


def job(name: str):
    """The declared job called name (call it to enqueue)."""
    return current_app.extensions["webapp_jobs"][name]


def huey():
    """The current app's Huey instance."""
    return current_app.extensions["huey"]


def enqueue_training(run_id: int):
    """Queue the training of a run."""
    return job("train_run")(run_id)


def enqueue_new_photos(photo_ids: list[int] | None = None) -> bool:
    """Make sure one process_new_photos job will look at the photos just stored; True if one was queued.

    Coalesced: while one such job is pending, uploads queue nothing more (it takes every photo without
    features or predictions when it runs), so a burst of uploads leaves one job, not one per upload.
    """
    try:
        if not _mark_pending(huey()):
            return False
        job("process_new_photos")()
        return True
    except Exception:  # the photos are stored either way; Train computes missing features itself
        log.exception("could not queue background work for %s new photo(s)", len(photo_ids or ()))
        return False


# Coordination of process_new_photos in the queue's own key-value store (SQLite or Redis), timestamps as
# values: a flag "a job is pending" and a lock "a job is working" (a dead worker's entries go stale).
NEW_PHOTOS_PENDING = "webapp.new_photos.pending"
NEW_PHOTOS_LOCK = "webapp.new_photos.lock"
NEW_PHOTOS_STALE_SECONDS = 600


def _mark_pending(queue_huey) -> bool:
    """Set the pending flag; False when a job is already pending (and not lost long ago)."""
    # Most uploads find the flag set: a read answers them without a write (SqliteHuey writes are exclusive).
    since = queue_huey.get(NEW_PHOTOS_PENDING, peek=True)
    if since is not None and time.time() - since < NEW_PHOTOS_STALE_SECONDS:
        return False
    return claim_key(queue_huey, NEW_PHOTOS_PENDING)


def claim_key(queue_huey, key: str, stale_seconds: float = NEW_PHOTOS_STALE_SECONDS) -> bool:
    """Set a flag or lock in the queue's store; False when it is set and younger than stale_seconds."""
    if queue_huey.put_if_empty(key, time.time()):
        return True
    since = queue_huey.get(key, peek=True)
    if since is not None and time.time() - since < stale_seconds:
        return False
    queue_huey.put(key, time.time())  # stale: its job or worker was lost
    return True


def new_photos_begin(queue_huey) -> bool:
    """In the job: take the lock (False: another job is working and will look again when it ends)."""
    if not claim_key(queue_huey, NEW_PHOTOS_LOCK):
        return False
    queue_huey.delete(NEW_PHOTOS_PENDING)  # photos stored from now on queue a job of their own
    return True


def new_photos_end(queue_huey, more: bool) -> None:
    """In the job: release the lock; queue the next round if work is left or photos came meanwhile."""
    queue_huey.delete(NEW_PHOTOS_LOCK)
    # A job that found the lock taken left the pending flag set: looking at it after the release means no
    # photo is left waiting for an upload that may never come.
    if more or queue_huey.get(NEW_PHOTOS_PENDING, peek=True) is not None:
        queue_huey.put(NEW_PHOTOS_PENDING, time.time())
        job("process_new_photos")()


def enqueue_predictions(run_id: int) -> None:
    """Queue predicting every photo with a run's model (best effort: the pin itself already holds)."""
    try:
        job("predict_run")(run_id)
    except Exception:
        log.exception("could not queue predictions for run %s", run_id)
