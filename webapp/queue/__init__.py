"""The job queue (Huey), shared by both processes: set-up, job names, enqueueing.

The web side only enqueues. A worker process attaches the job bodies (webapp.worker) before it consumes, so
nothing here imports webapp.worker or TensorFlow. A *job* is queued work; a *run* is a training run (its own
row, see webapp.queue.runstate).
"""

import logging
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


def make_huey(config, instance_path: Path):
    """SqliteHuey in the instance folder by default, PriorityRedisHuey for redis:// (both have priorities)."""
    url = config.get("QUEUE_URL")
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        return PriorityRedisHuey("webapp", url=url)
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


def enqueue_new_photos(photo_ids: list[int]) -> None:
    """Queue feature computation and active-model predictions for freshly stored photos."""
    try:
        job("process_new_photos")(photo_ids)
    except Exception:  # the photos are stored either way; Train computes missing features itself
        log.exception("could not queue background work for new photos")


def enqueue_predictions(run_id: int) -> None:
    """Queue predicting every photo with a run's model (best effort: the pin itself already holds)."""
    try:
        job("predict_run")(run_id)
    except Exception:
        log.exception("could not queue predictions for run %s", run_id)
