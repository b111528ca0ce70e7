"""Faults under real processes: another process holds the SQLite write lock; the Redis queue goes away.

Readers never wait for a writer (GET/HEAD use a deferred BEGIN; WAL lets them read), writers answer 503 with
Retry-After once their busy timeout runs out, nothing acknowledged is lost, and all works again afterwards.
"""

import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.accounts import token_client
from tests.images import class_photo
from tests.live import LiveApp, app_env, free_port, wait_until
from tests.test_api_runs import fake_files, insert_run, labeled
from tests.test_worker import upload_labeled, wait_run

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE app_setting SET value = value WHERE key = 'seeded'")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
"""


@contextmanager
def write_lock(database: Path):
    """Another process holds the database's write lock until the block ends (it waits for us, not a clock)."""
    args = [sys.executable, "-c", LOCKER, str(database)]
    with subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout.readline().strip() == "locked"
            yield proc
            assert proc.poll() is None  # it held the lock all along
        finally:
            if proc.poll() is None:
                proc.stdin.write("\n")
                proc.stdin.flush()
            assert proc.wait(30) == 0


# ---------------------------------------------------------------- the SQLite write lock, in-process app


@pytest.fixture
def busy_app(app_config):
    """An app whose writers give up after 300 ms (the default waits 30 s)."""
    from webapp import create_app
    from webapp.db import db

    app = create_app({**app_config, "SQLITE_BUSY_TIMEOUT_MS": 300})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def get_urls(app, values: dict) -> list[str]:
    """Every GET route of the app, its arguments filled from values."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        missing = rule.arguments - set(values)
        assert not missing, f"no sample value for {missing} in {rule.rule}: add one to this test"
        urls.append(rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)[1])
    return urls


def test_no_get_handler_waits_for_or_takes_the_write_lock(busy_app):
    client = token_client(busy_app)
    ids = labeled(client, {"beer": 4, "wings": 4})
    run_id = insert_run(busy_app, "succeeded", files=fake_files())
    photo = client.get(f"/api/v1/photos/{ids['beer'][0]}").get_json()
    values = {
        "run_id": run_id,
        "photo_id": photo["id"],
        "class_id": 1,
        "sha": photo["sha256"],
        "name": "labels.json",
        "filename": "js/api.js",
        "token": "not-a-token",
        "job_id": 1,
        "import_id": 1,
        "user_id": 1,
        "upload_id": 1,
    }
    orders = ["/api/v1/photos?order=uncertain", "/api/v1/photos/ids?order=uncertain"]
    urls = [*get_urls(busy_app, values), *orders]
    with write_lock(Path(busy_app.instance_path) / "app.db"):
        answers = {url: client.get(url) for url in urls}
        for response in answers.values():
            response.close()
        # A GET that wrote would get "database is locked" (503) here: none may (404s and redirects are fine).
        assert {url: r.status_code for url, r in answers.items() if r.status_code >= 500} == {}
        refused = client.patch(f"/api/v1/photos/{photo['id']}", json={"label": "wings"})
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        assert "busy" in refused.get_json()["error"] and "nothing was changed" in refused.get_json()["error"]
        page = client.post("/api/v1/classes", json={"name": "pizza"}, headers={"Accept": "text/html"})
        assert page.status_code == 503 and "busy" in page.get_data(as_text=True)
    assert client.get(f"/api/v1/photos/{photo['id']}").get_json()["label"] == "beer"  # as acknowledged
    assert client.patch(f"/api/v1/photos/{photo['id']}", json={"label": "wings"}).status_code == 200
    assert client.post("/api/v1/classes", json={"name": "pizza"}).status_code == 201


# ---------------------------------------------------------------- the same with the real processes


@pytest.fixture
def live(tmp_path):
    """A web server whose writers give up after 1 s, CSRF off, not yet started."""
    env = app_env(tmp_path, WEBAPP_WTF_CSRF_ENABLED="false", WEBAPP_SQLITE_BUSY_TIMEOUT_MS="1000")
    app = LiveApp(tmp_path, env)
    yield app
    app.stop()


READS = ["/", "/label", "/photos", "/train", "/gallery", "/api/v1/photos", "/api/v1/runs", "/api/v1/classes",
         "/api/v1/dataset", "/api/v1/photos/ids", "/healthz"]  # fmt: skip


@pytest.mark.slow
def test_a_write_lock_held_by_another_process(live):
    live.start(with_worker=False)
    upload_labeled(live, per_class=6)
    # The worker keeps the default busy timeout: its writes (progress, results) wait for a lock rather than
    # fail a run; only web requests give up early, to free their thread.
    live.env = {k: v for k, v in live.env.items() if k != "WEBAPP_SQLITE_BUSY_TIMEOUT_MS"}
    live.start_worker()
    live.wait_for_worker()
    before = live.get("/api/v1/photos?per_page=100").json()
    with write_lock(live.instance / "app.db"):
        # Readers answer while the lock is still held (the locker waits for us, not for a clock).
        assert {url: live.get(url).status_code for url in READS} == {url: 200 for url in READS}
        labeled_photo = before["photos"][0]
        refused = live.patch(f"/api/v1/photos/{labeled_photo['id']}", json={"label": None})
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
        train = live.post("/api/v1/runs", json={"epochs": 3, "batch_size": 8})
        assert train.status_code == 503 and "busy" in train.json()["error"]
        files = {"files": ("late.jpg", class_photo(0, 77), "image/jpeg")}
        late = live.post("/api/v1/photos", files=files)
        assert late.status_code >= 400 or late.json()["results"][0]["status"] != "stored"
    after = live.get("/api/v1/photos?per_page=100").json()
    assert [(p["id"], p["label"], p["sha256"]) for p in after["photos"]] == [
        (p["id"], p["label"], p["sha256"]) for p in before["photos"]
    ]
    assert live.get("/api/v1/runs").json() == []  # the refused Train left no run behind
    # Once the lock is gone everything works: uploads (the refused one was not half-stored: not a duplicate
    # now), labels, a Train through the worker.
    assert live.post("/api/v1/photos", files=files).json()["results"][0]["status"] == "stored"
    run = live.post("/api/v1/runs", json={"epochs": 3, "batch_size": 8})
    assert run.status_code == 202, run.text
    done = wait_run(live, run.json()["id"])
    assert done["status"] == "succeeded", done["error"]


# ---------------------------------------------------------------- Redis goes away


class RedisServer:
    """A redis-server of our own on a free port, without persistence."""

    def __init__(self, directory: Path):
        self.port, self.directory, self.proc = free_port(), directory, None

    def start(self) -> "RedisServer":
        args = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(
            [*args, "--dir", str(self.directory)], stdout=subprocess.DEVNULL, start_new_session=True
        )
        wait_until(self._answers, 30, "redis-server did not start")
        return self

    def _answers(self) -> bool:
        import redis

        try:
            return redis.Redis(port=self.port, socket_timeout=1).ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)


@pytest.fixture
def redis_server(tmp_path):
    if not Path("/usr/bin/redis-server").exists() and not any(
        (Path(d) / "redis-server").exists() for d in os.environ.get("PATH", "").split(":")
    ):
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path)
    yield server.start()
    server.stop()


@pytest.mark.slow
def test_redis_going_away_and_coming_back(tmp_path, redis_server):
    instance = tmp_path / "instance"
    instance.mkdir()
    env = app_env(
        instance, WEBAPP_WTF_CSRF_ENABLED="false", WEBAPP_QUEUE_URL=f"redis://127.0.0.1:{redis_server.port}/0"
    )
    live = LiveApp(instance, env)
    try:
        live.start()
        upload_labeled(live, per_class=6)
        live.wait_for_worker()
        first = live.post("/api/v1/runs", json={"epochs": 3, "batch_size": 8}).json()
        assert wait_run(live, first["id"])["status"] == "succeeded"
        photo = {"file": ("x.jpg", class_photo(1, 99), "image/jpeg")}
        # Hung (SIGSTOP: it accepts connections and never answers): the socket timeouts bound every wait.
        os.kill(redis_server.proc.pid, signal.SIGSTOP)
        try:
            train = live.post("/api/v1/runs", json={"epochs": 3, "batch_size": 8}, timeout=20)
            assert train.status_code == 503 and "job queue is not available" in train.json()["error"]
            predict = live.post("/api/v1/predict", files=photo, timeout=20)
            assert predict.status_code == 503 and "job queue" in predict.json()["error"]
            assert live.get("/train", timeout=20).status_code == 200
        finally:
            os.kill(redis_server.proc.pid, signal.SIGCONT)
        # Down (the server stopped): refused at once.
        redis_server.stop()
        train = live.post("/api/v1/runs", json={"epochs": 3, "batch_size": 8}, timeout=15)
        assert train.status_code == 503 and "job queue is not available" in train.json()["error"]
        predict = live.post("/api/v1/predict", files=photo, timeout=15)
        assert predict.status_code == 503 and "job queue" in predict.json()["error"]
        # Pages and lists keep working; uploads are stored (their background work waits for Train).
        for url in ("/", "/train", f"/runs/{first['id']}", "/api/v1/runs", "/api/v1/photos"):
            assert live.get(url, timeout=15).status_code == 200, url
        health = live.get("/healthz", timeout=15).json()
        assert health["status"] == "ok" and health["queue"].startswith("error")
        upload = {"files": ("during.jpg", class_photo(0, 55), "image/jpeg")}
        stored = live.post("/api/v1/photos", files=upload, timeout=15).json()["results"][0]
        assert stored["status"] == "stored"
        redis_server.start()  # the same port, empty (no persistence)
        wait_until(lambda: live.get("/healthz").json()["queue"] == "ok", 30, "the queue did not come back")
        again = live.post("/api/v1/runs", json={"epochs": 3, "batch_size": 8})
        assert again.status_code == 202, again.text
        assert wait_run(live, again.json()["id"])["status"] == "succeeded"
        answer = wait_until(  # the worker may answer 503 + Retry-After while it loads the new model
            lambda: (r := live.post("/api/v1/predict", files=photo, timeout=60)).status_code != 503 and r,
            120,
            "predict kept answering 503",
        )
        assert answer.status_code == 200 and answer.json()["run_id"] == again.json()["id"]
    except requests.Timeout as exc:
        raise AssertionError(f"a request hung while Redis was away: {exc}") from None
    finally:
        live.stop()
