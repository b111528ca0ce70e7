"""The worker process: a Huey consumer with process workers, a heartbeat, and parent watching."""

import logging
import os
import signal
import threading

from flask import Flask

from . import tasks

log = logging.getLogger(__name__)


def run_worker(app: Flask, workers: int = 2) -> int:
    """Run the Huey consumer until SIGINT (finish tasks) or SIGTERM (stop now)."""
    huey = app.extensions["huey"]
    consumer = huey.create_consumer(workers=workers, worker_type="process", periodic=False,
                                    check_worker_health=True, health_check_interval=2)
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(app, stop), daemon=True).start()
    try:
        consumer.run()
    finally:
        stop.set()
    return 0


def _heartbeat(app: Flask, stop: threading.Event) -> None:
    name = tasks.worker_name()
    parent = int(os.environ.get("WEBAPP_PARENT_PID", "0") or 0)
    while not stop.is_set():
        with app.app_context():
            try:
                tasks.beat(name)
            except Exception:  # a busy database must not kill the heartbeat
                log.exception("heartbeat failed")
            finally:
                from .extensions import db

                db.session.remove()
        if parent and os.getppid() != parent:
            log.warning("the web process is gone; stopping the worker")
            os.kill(os.getpid(), signal.SIGTERM)
            return
        stop.wait(tasks.BEAT_SECONDS)
