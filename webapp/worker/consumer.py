"""The consumer: process workers forked from one parent, a heartbeat in each, a watch on the web process."""

import logging
import os
import signal
import threading
import time

from flask import Flask

from webapp.db import db
from webapp.queue import heartbeat

log = logging.getLogger(__name__)


def run_worker(app: Flask, workers: int = 2) -> int:
    """Run the Huey consumer until SIGINT (finish jobs) or SIGTERM (stop now)."""
    from webapp.worker import attach

    attach(app)
    consumer = app.extensions["huey"].create_consumer(
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


def on_worker_start(app: Flask) -> None:
    """In each forked worker process: fresh connections, recover dead runs, beat, warm up TensorFlow."""
    from webapp.worker import jobs

    with app.app_context():
        db.engine.dispose(close=False)
        jobs.recover_dead_runs()
        db.session.remove()
    start_heartbeat(app)
    threading.Thread(target=jobs.warm_up, daemon=True).start()


def start_heartbeat(app: Flask) -> None:
    """Beat for this worker process every few seconds (started in each forked worker, never before a fork)."""
    threading.Thread(target=_heartbeat, args=(app,), daemon=True).start()


def _heartbeat(app: Flask) -> None:
    name = heartbeat.worker_name()
    while True:
        with app.app_context():
            try:
                heartbeat.beat(name)
            except Exception:  # a busy database must not kill the heartbeat
                log.exception("heartbeat failed")
            finally:
                db.session.remove()
        time.sleep(heartbeat.BEAT_SECONDS)
