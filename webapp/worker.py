"""The worker process: a Huey consumer with process workers, a heartbeat, and parent watching."""

import logging
import os
import signal
import threading
import time

from flask import Flask

from . import tasks
from .extensions import db

log = logging.getLogger(__name__)


def run_worker(app: Flask, workers: int = 2) -> int:
    """Run the Huey consumer until SIGINT (finish tasks) or SIGTERM (stop now)."""
    huey = app.extensions["huey"]
    consumer = huey.create_consumer(
        workers=workers,
        worker_type="process",
        periodic=False,
        check_worker_health=True,
        health_check_interval=2,
    )
    # SQLite must not see a connection opened before a fork: this process forks the workers (and restarts
    # dead ones), so it closes its connections now and never opens another.
    with app.app_context():
        db.engine.dispose()
    parent = int(os.environ.get("WEBAPP_PARENT_PID", "0") or 0)
    if parent:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    consumer.run()
    return 0


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    log.warning("the web process is gone; stopping the worker")
    os.kill(os.getpid(), signal.SIGTERM)


def start_heartbeat(app: Flask) -> None:
    """Beat for this worker process every few seconds (started in each forked worker, never before a fork)."""
    threading.Thread(target=_heartbeat, args=(app,), daemon=True).start()


def _heartbeat(app: Flask) -> None:
    name = tasks.worker_name()
    while True:
        with app.app_context():
            try:
                tasks.beat(name)
            except Exception:  # a busy database must not kill the heartbeat
                log.exception("heartbeat failed")
            finally:
                db.session.remove()
        time.sleep(tasks.BEAT_SECONDS)
