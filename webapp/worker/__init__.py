"""The worker process: the Huey consumer and the job bodies (load rows, call webapp.ml, write results back).

Only a worker process (and the `flask train`/`predict` commands) imports this package; the web process never
does, so it never loads TensorFlow.
"""

import functools

from flask import Flask

from webapp import queue


def attach(app: Flask) -> None:
    """Give the app's queue the job bodies, and set up each forked worker process as it starts."""
    from webapp.worker import consumer, jobs

    queue.attach_bodies(app, jobs.BODIES)
    app.extensions["huey"].on_startup(name="webapp_worker_start")(
        functools.partial(consumer.on_worker_start, app)
    )
