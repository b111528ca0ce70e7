"""A clean stop (`docker stop`, compose down: SIGTERM) must leave a running training run recorded as failed in
plain words, even when recording it takes a while.

On SIGTERM the consumer interrupts its forked workers with SIGTERM, waits one second, exits, and Python's
multiprocessing exit handler sends each of them SIGTERM again. A worker whose run's clean-up (closing the run,
removing its half-written model files) outlasted that second was interrupted a second time inside it, and the
run stayed "running" until a later worker failed it as dead.
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


def closing_waits_for(engine, holder_pid: int) -> bool:
    """Whether a statement that closes a run (it sets finished_at) waits for the lock holder_pid holds."""
    with engine.connect() as conn:
        waiting = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE :holder = ANY(pg_blocking_pids(pid)) AND query ILIKE '%finished_at%'"
            ),
            {"holder": holder_pid},
        ).scalar()
    return waiting > 0


def test_a_second_sigterm_during_the_clean_up_still_records_how_the_run_ended(tmp_path, pg_url):  # noqa: F811
    live = LiveApp(tmp_path, app_env(tmp_path, WEBAPP_WTF_CSRF_ENABLED="false", WEBAPP_DATABASE_URL=pg_url))
    engine = create_engine(pg_url)
    try:
        live.start(with_worker=False)
        upload_labeled(live, per_class=6)
        live.start_worker()
        live.wait_for_worker()
        run = live.post("/api/v1/runs", json={"epochs": 200, "batch_size": 1}).json()
        progress = lambda: live.get(f"/api/v1/runs/{run['id']}").json()["progress"]  # noqa: E731
        wait_until(lambda: progress().get("epoch", 0) >= 1, 120, "training did not start")
        with engine.connect() as holder:  # a busy database: another transaction holds the run's row
            worker = holder.execute(
                text("SELECT worker FROM training_run WHERE id = :id FOR UPDATE"), {"id": run["id"]}
            ).scalar()
            pid = int(worker.rpartition(":")[2])
            me = holder.execute(text("SELECT pg_backend_pid()")).scalar()
            os.kill(pid, signal.SIGTERM)  # the consumer stopping: the job stops, then records how it ended
            wait_until(lambda: closing_waits_for(engine, me), 60, "the run was never being closed")
            os.kill(pid, signal.SIGTERM)  # multiprocessing's exit handler, a second later
            time.sleep(1)  # let it land while the clean-up still waits (no assertion on time)
            holder.rollback()
        done = wait_run(live, run["id"], timeout=120)
        assert done["status"] == "failed"
        # Recorded by the stopped worker itself; a later worker failing it as dead says "The worker stopped".
        assert re.fullmatch(STOPPED, done["error"]), done["error"]
        assert not (live.instance / "models" / str(run["id"])).exists()
    finally:
        live.stop()
        engine.dispose()
