"""The consumer: process workers forked from one parent, a heartbeat in each; every process dies with its
parent (the workers with the consumer, the consumer with the web process that started it)."""

import ctypes
import logging
import os
import signal
import threading
import time

from flask import Flask

from webapp import logs
from webapp.db import db
from webapp.queue import heartbeat
from webapp.worker import stopping

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


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
    _children_die_with_this_process(consumer)
    # SQLite must not see a connection opened before a fork: this process forks the workers (and restarts
    # dead ones), so it closes its connections now and never opens another.
    with app.app_context():
        db.engine.dispose()
    parent = int(os.environ.get("WEBAPP_PARENT_PID", "0") or 0)
    if parent:  # started by `python -m webapp`: stop (and stop our workers) when the web process goes
        die_with_parent(parent, signal.SIGTERM)
    said = logs.share_once_between_processes()
    try:
        consumer.run()
    finally:
        logs.forget_shared(said)
    return 0


def _children_die_with_this_process(consumer) -> None:
    """Each forked worker (and the scheduler) is killed by the kernel when this process dies, even by
    kill -9: an orphan would go on taking jobs (Huey's children ignore SIGINT, and SIGTERM while idle)."""
    environment, parent = consumer.environment, os.getpid()
    init_child = environment.init_child

    def init(process) -> None:
        init_child(process)
        die_with_parent(parent, signal.SIGKILL)
        stopping.install()  # SIGTERM: a training run stops at its next batch, in plain words

    environment.init_child = init


def die_with_parent(parent: int, sig: int) -> None:
    """Get sig when the parent process dies: PR_SET_PDEATHSIG (Linux), plus a thread watching getppid()."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    except (OSError, AttributeError) as exc:  # not Linux: the watch alone does it, within a second
        log.warning("the parent watch alone guards this process: %s", exc)
    threading.Thread(target=_watch_parent, args=(parent, sig), daemon=True).start()
    if os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), sig)


def _watch_parent(parent: int, sig: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    log.warning("process %s is gone; stopping with %s", parent, signal.Signals(sig).name)
    os.kill(os.getpid(), sig)


def on_worker_start(app: Flask) -> None:
    """In each forked worker process: fresh connections, recover dead runs, beat, warm up TensorFlow."""
    from webapp.worker import jobs, suggesting

    with app.app_context():
        db.engine.dispose(close=False)
        jobs.recover_dead_runs()
        db.session.remove()
    start_heartbeat(app)
    threading.Thread(target=jobs.warm_up, daemon=True).start()
    suggesting.start_watch(app)


def start_heartbeat(app: Flask) -> None:
    """Beat for this worker process every few seconds (started in each forked worker, never before a fork)."""
    threading.Thread(target=_heartbeat, args=(app,), daemon=True).start()


def _heartbeat(app: Flask) -> None:
    from webapp.queue.runstate import fail_dead_runs

    name = heartbeat.worker_name()
    while True:
        with app.app_context():
            try:
                heartbeat.beat(name)
                # A live worker also fails runs whose worker died (a whole consumer killed, another host
                # gone), so their page says so within a beat instead of when someone presses Train.
                fail_dead_runs(app.config["WORKER_STALE_SECONDS"])
            except Exception:  # a busy database must not kill the heartbeat
                log.exception("heartbeat failed")
            finally:
                db.session.remove()
        time.sleep(heartbeat.BEAT_SECONDS)
