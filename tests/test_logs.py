"""Quiet logs (issue 10, item 9): one short line per event by default, a repeated warning once; --verbose."""

import multiprocessing
import time

import pytest

from tests.images import class_photo
from tests.live import LiveApp, app_env, wait_until
from webapp import logs
from webapp.logs import Once

pytestmark = pytest.mark.slow
NOISE = ("alembic", "oneDNN", "absl::InitializeLog", "Running upgrade", "setup plugin")


def upload_one_at_a_time(live: LiveApp, n: int) -> None:
    for i in range(n):
        files = {"files": (f"p{i}.jpg", class_photo(i % 2, i), "image/jpeg")}
        assert live.post("/api/v1/photos", files=files).status_code == 200
        time.sleep(1.5)  # one background round each


def test_a_first_start_says_what_matters_once(tmp_path):
    # ImageNet weights cannot be fetched where the tests run: every upload's background work meets the same
    # failure, and the log must say it once, not once per upload.
    missing = tmp_path / "no-such-weights.h5"
    live = LiveApp(tmp_path, app_env(tmp_path, WEBAPP_BACKBONE_WEIGHTS=str(missing)))
    try:
        live.start()
        live.wait_for_worker()
        upload_one_at_a_time(live, 4)
        wait_until(lambda: "features of new photos not computed" in live.log_text("web"), 60, "no warning")
        time.sleep(3)
    finally:
        live.stop()
    log = live.log_text("web")
    assert [word for word in NOISE if word in log] == []
    assert log.count("features of new photos not computed") == 1
    assert "Serving on http://127.0.0.1:" in log and "First start: create the admin account at" in log


def test_verbose_shows_the_details(tmp_path):
    live = LiveApp(tmp_path, app_env(tmp_path))
    live.args = ["--verbose"]
    try:
        live.start()
        live.wait_for_worker()
    finally:
        live.stop()
    log = live.log_text("web")
    assert "Running upgrade" in log and "alembic" in log


def _say(once: Once, queue) -> None:
    queue.put(once.first_time("the same failure"))


def test_worker_processes_forked_after_sharing_say_a_warning_once_between_them():
    # Each worker process of the consumer met the same failure and each said it once: twice in the log.
    folder = logs.share_once_between_processes()
    try:
        once, context = Once(), multiprocessing.get_context("fork")
        queue = context.Queue()
        workers = [context.Process(target=_say, args=(once, queue)) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(10)
        said = sorted(queue.get(timeout=5) for _ in workers)
    finally:
        logs.forget_shared(folder)
    assert said == [False, False, False, True]
    assert once.first_time("the same failure") is True  # this process never said it itself, and sharing ended
    assert once.first_time("the same failure") is False
