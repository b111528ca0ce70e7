"""A clean stop (`docker stop`, compose down, the web process stopping: SIGTERM to the worker) must leave a
running training run recorded as failed in plain words, even when recording it takes a while.

Before, the consumer interrupted its forked workers with SIGTERM (a KeyboardInterrupt anywhere, TensorFlow
included, where pybind11 mangles it into a RuntimeError), waited one second and exited, and Python's
multiprocessing exit handler sent each worker SIGTERM again: a run whose clean-up (closing the run, removing
its half-written model files) outlasted that second was interrupted inside it and stayed "running". Now a
training run stops at its next safe point (webapp.worker.stopping).
"""

import os
import re
import signal
import time

import pytest
from sqlalchemy import create_engine, text

from tests.live import LiveApp, app_env, wait_until
from tests.test_scale_out import pg_url  # noqa: F401 - fixture
from tests.test_worker import upload_labeled, wait_run

pytestmark = pytest.mark.slow
STOPPED = r"The worker was stopped during epoch \d+; press Train to start again"


def test_a_stopped_worker_records_its_run_even_while_the_database_is_busy(tmp_path, pg_url):  # noqa: F811
    live = LiveApp(tmp_path, app_env(tmp_path, WEBAPP_WTF_CSRF_ENABLED="false", WEBAPP_DATABASE_URL=pg_url))
    engine = create_engine(pg_url)
    try:
        live.start(with_worker=False)
        upload_labeled(live, per_class=6)
        worker = live.start_worker()
        live.wait_for_worker()
        run = live.post("/api/v1/runs", json={"epochs": 200, "batch_size": 1}).json()
        progress = lambda: live.get(f"/api/v1/runs/{run['id']}").json()["progress"]  # noqa: E731
        wait_until(lambda: progress().get("epoch", 0) >= 1, 120, "training did not start")
        with engine.connect() as holder:  # a busy database: another transaction holds the run's row
            holder.execute(text("SELECT id FROM training_run WHERE id = :id FOR UPDATE"), {"id": run["id"]})
            os.kill(worker.pid, signal.SIGTERM)  # stop the worker, as `docker stop` does
            # The consumer signals its worker, waits a second, exits, and its exit handler signals it again:
            # all while the row is held (a delay, no assertion on time).
            time.sleep(3)
            holder.rollback()
        done = wait_run(live, run["id"], timeout=60)
        assert done["status"] == "failed"
        # Recorded by the stopped worker itself; a later worker failing it as dead says "The worker stopped".
        assert re.fullmatch(STOPPED, done["error"]), done["error"]
        assert not (live.instance / "models" / str(run["id"])).exists()
        assert worker.wait(60) == 0
        assert "did not finish" not in live.log_text("worker0")  # the job ended, it was not interrupted
    finally:
        live.stop()
        engine.dispose()
