"""Quiet logs (issue 10, item 9): one short line per event by default, a repeated warning once; --verbose."""

import time

import pytest

from tests.images import class_photo
from tests.live import LiveApp, app_env, wait_until

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
