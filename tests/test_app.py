"""create_app: config layering, the kept secret key, first-start seeding, migrations, WAL, health, pages."""

import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from tests.accounts import token_client
from tests.images import phone_jpeg
from webapp import create_app
from webapp.config import REPO_ROOT
from webapp.db import db

PAGES = ["/", "/label", "/photos", "/classes", "/train", "/gallery"]
META_RE = re.compile(r'<meta\s+name="csrf-token"\s+content="([^"]+)"')
TABLES = {
    "label_class",
    "photo",
    "training_run",
    "prediction",
    "app_setting",
    "worker_beat",
    "alembic_version",
}


@pytest.fixture(autouse=True)
def _no_webapp_env(monkeypatch):
    """Tests here control every WEBAPP_* variable themselves."""
    for name in list(os.environ):
        if name.startswith("WEBAPP_"):
            monkeypatch.delenv(name)


@pytest.fixture
def make_app(instance_path):
    """create_app(config) with INSTANCE_PATH defaulting to the test's instance folder; disposed afterwards."""
    apps = []

    def build(config: dict | None = None, **overrides):
        cfg = {
            "TESTING": True,
            "INSTANCE_PATH": str(instance_path),
            "BACKBONE_WEIGHTS": "none",
            "WTF_CSRF_ENABLED": False,
            **(config or {}),
            **overrides,
        }
        app = create_app({k: v for k, v in cfg.items() if v is not None})
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def class_names(app) -> list[str]:
    return [c["name"] for c in token_client(app).get("/api/v1/classes").get_json()]


# ---------------------------------------------------------------- configuration order


def test_defaults_apply(make_app):
    app = make_app()
    assert app.config["IMAGE_SIZE"] == 224
    assert app.config["CLASSES"] == "beer,wings"
    assert app.config["MAX_UPLOAD_BYTES"] == 50 * 1024 * 1024
    assert app.config["MAX_IMAGE_PIXELS"] == 100_000_000
    assert Path(app.config["INSTANCE_PATH"]) == Path(app.instance_path)


def test_config_order_defaults_file_env_test_dict(make_app, instance_path, monkeypatch):
    (instance_path / "config.py").write_text("IMAGE_SIZE = 64\nKEEP_MODEL_RUNS = 7\nPREDICT_TIMEOUT = 11\n")
    app = make_app()
    assert (app.config["IMAGE_SIZE"], app.config["KEEP_MODEL_RUNS"], app.config["PREDICT_TIMEOUT"]) == (
        64,
        7,
        11,
    )

    monkeypatch.setenv("WEBAPP_IMAGE_SIZE", "96")
    monkeypatch.setenv("WEBAPP_KEEP_MODEL_RUNS", "8")
    app = make_app()
    assert (app.config["IMAGE_SIZE"], app.config["KEEP_MODEL_RUNS"], app.config["PREDICT_TIMEOUT"]) == (
        96,
        8,
        11,
    )

    app = make_app(IMAGE_SIZE=128)
    assert (app.config["IMAGE_SIZE"], app.config["KEEP_MODEL_RUNS"], app.config["PREDICT_TIMEOUT"]) == (
        128,
        8,
        11,
    )
    assert app.config["WORKER_STALE_SECONDS"] == 60  # untouched default


def test_env_strings_become_numbers(make_app, monkeypatch):
    monkeypatch.setenv("WEBAPP_MAX_UPLOAD_BYTES", "1000000")
    monkeypatch.setenv("WEBAPP_BACKBONE_WEIGHTS", "none")
    app = make_app(BACKBONE_WEIGHTS=None)
    assert app.config["MAX_UPLOAD_BYTES"] == 1_000_000 and isinstance(app.config["MAX_UPLOAD_BYTES"], int)
    assert app.config["BACKBONE_WEIGHTS"] == "none"


def test_instance_path_from_env(tmp_path, monkeypatch):
    target = tmp_path / "from-env"
    monkeypatch.setenv("WEBAPP_INSTANCE_PATH", str(target))
    app = create_app({"TESTING": True, "BACKBONE_WEIGHTS": "none"})
    try:
        assert Path(app.instance_path) == target.resolve()
        assert (target / "app.db").is_file()
    finally:
        with app.app_context():
            db.engine.dispose()


def test_image_size_below_32_is_refused(make_app):
    with pytest.raises(ValueError, match="32"):
        make_app(IMAGE_SIZE=16)


# ---------------------------------------------------------------- secret key


def test_secret_key_generated_once_and_kept(make_app, instance_path):
    first = make_app(SECRET_KEY=None)
    key_file = instance_path / "secret_key"
    assert key_file.is_file()
    key = key_file.read_text().strip()
    assert len(key) >= 32 and first.config["SECRET_KEY"] == key
    assert key_file.stat().st_mode & 0o077 == 0  # readable by the owner only
    second = make_app(SECRET_KEY=None)
    assert second.config["SECRET_KEY"] == key
    assert key_file.read_text().strip() == key


def test_each_instance_has_its_own_secret_key(make_app, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    assert (
        make_app(SECRET_KEY=None).config["SECRET_KEY"]
        != make_app(SECRET_KEY=None, INSTANCE_PATH=str(other)).config["SECRET_KEY"]
    )


# A fresh interpreter creates the key with the loosest umask, and an audit hook (sys.addaudithook) looks at
# every file in the folder at each of the interpreter's events (open, chmod, link, rename, mkstemp, ...): a
# key written first and restricted after (write_text + chmod) is caught in the act, deterministically.
KEY_SCRIPT = """
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from webapp.config import load_secret_key
folder, go = Path(sys.argv[1]), Path(sys.argv[2])
exposed, busy = [], [False]
def watch(event, args):
    if busy[0]:
        return
    busy[0] = True
    try:
        for entry in os.scandir(folder):
            mode = entry.stat(follow_symlinks=False).st_mode
            if mode & 0o077:
                exposed.append([event, entry.name, oct(mode & 0o777)])
    except FileNotFoundError:
        pass  # a file another process just removed
    finally:
        busy[0] = False
os.umask(0)
Path(str(go) + f".ready{{os.getpid()}}").touch()
while not go.exists():
    time.sleep(0.001)
sys.addaudithook(watch)
key = load_secret_key(folder)
print(json.dumps({{"key": key, "exposed": exposed}}))
"""


def make_keys(folder: Path, processes: int) -> list[dict]:
    """Start `processes` interpreters, release them together, and return what each one printed."""
    go = folder.parent / "go"
    script = KEY_SCRIPT.format(root=str(REPO_ROOT))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBAPP_")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(folder), str(go)], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(processes)
    ]
    try:
        while len(list(folder.parent.glob("go.ready*"))) < processes:
            assert all(p.poll() is None for p in procs), "a key process died before the start"
            time.sleep(0.01)
        go.touch()
        outputs = [p.communicate(timeout=60)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert all(p.returncode == 0 for p in procs)
    return [json.loads(out.strip().splitlines()[-1]) for out in outputs]


def test_secret_key_is_never_readable_by_others(tmp_path):
    folder = tmp_path / "instance"
    folder.mkdir()
    [result] = make_keys(folder, 1)
    assert result["exposed"] == []
    assert (folder / "secret_key").read_text().strip() == result["key"]
    assert (folder / "secret_key").stat().st_mode & 0o777 == 0o600


def test_processes_starting_together_agree_on_one_key(tmp_path):
    folder = tmp_path / "instance"
    folder.mkdir()
    results = make_keys(folder, 8)
    assert len({r["key"] for r in results}) == 1 and len(results[0]["key"]) == 64
    assert all(r["exposed"] == [] for r in results)
    assert [p.name for p in folder.iterdir()] == ["secret_key"]  # no temporary file left behind
    assert (folder / "secret_key").read_text().strip() == results[0]["key"]


def test_an_old_world_readable_key_is_made_private(make_app, instance_path):
    key_file = instance_path / "secret_key"
    key_file.write_text("k" * 64)
    key_file.chmod(0o644)
    assert make_app(SECRET_KEY=None).config["SECRET_KEY"] == "k" * 64
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_explicit_secret_key_wins(make_app):
    assert make_app(SECRET_KEY="given").config["SECRET_KEY"] == "given"


# ---------------------------------------------------------------- first-start seeding


def test_default_classes_on_first_start(make_app):
    app = make_app()
    body = token_client(app).get("/api/v1/classes").get_json()
    assert [(c["name"], c["key"]) for c in body] == [("beer", 1), ("wings", 2)]


def test_deleted_default_classes_are_not_recreated(make_app):
    app = make_app()
    client = token_client(app)
    for cls in client.get("/api/v1/classes").get_json():
        assert client.delete(f"/api/v1/classes/{cls['id']}").status_code == 200
    assert class_names(app) == []
    assert class_names(make_app()) == []


def test_configured_classes_on_first_start_only(make_app, monkeypatch):
    monkeypatch.setenv("WEBAPP_CLASSES", "cats, dogs,birds")
    app = make_app()
    assert class_names(app) == ["cats", "dogs", "birds"]
    monkeypatch.setenv("WEBAPP_CLASSES", "fish")
    assert class_names(make_app()) == ["cats", "dogs", "birds"]


@pytest.mark.parametrize(
    "names,bad",
    [
        ("beer,a/b", "a/b"),
        ("beer," + "x" * 65, "x" * 65),
        ("beer,a\x00b", "NUL"),
        ("beer,bell\x07", "control"),
        ("..", ".."),
    ],
)
def test_configured_class_names_are_checked_at_start(make_app, names, bad):
    with pytest.raises(ValueError, match="WEBAPP_CLASSES") as refused:
        make_app(CLASSES=names)
    assert bad in str(refused.value)
    assert class_names(make_app(CLASSES="cats,dogs")) == ["cats", "dogs"]  # nothing half seeded before


def test_configured_class_names_are_cleaned_and_repeats_skipped(make_app):
    app = make_app(CLASSES="beer, wings,, Beer ,  hot   dogs , HOT  dogs,,")
    assert class_names(app) == ["beer", "wings", "hot dogs"]
    body = token_client(app).get("/api/v1/classes").get_json()
    assert [c["key"] for c in body] == [1, 2, 3]


def test_restart_keeps_data(make_app):
    app = make_app()
    token_client(app).post(
        "/api/v1/photos",
        data={"files": [(io.BytesIO(phone_jpeg()), "a.jpg")]},
        content_type="multipart/form-data",
    )
    assert token_client(make_app()).get("/api/v1/photos").get_json()["total"] == 1


# ---------------------------------------------------------------- database


def test_migrations_applied(make_app):
    from alembic.script import ScriptDirectory

    from webapp.db.setup import MIGRATIONS_DIR

    app = make_app()
    with app.app_context():
        assert set(inspect(db.engine).get_table_names()) >= TABLES
        version = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == ScriptDirectory(MIGRATIONS_DIR).get_current_head()


def test_sqlite_uses_wal(make_app, instance_path):
    app = make_app()
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar_one().lower() == "wal"
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    # WAL is a property of the file: any other connection sees it too
    with sqlite3.connect(instance_path / "app.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    conn.close()


def test_database_url_setting_is_used(make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    app = make_app(DATABASE_URL=url)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == url
    assert (tmp_path / "elsewhere.db").is_file()


# ---------------------------------------------------------------- health


def test_healthz_shape(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) >= {"status", "database", "queue", "worker"}
    assert (body["status"], body["database"], body["queue"]) == ("ok", "ok", "ok")
    assert isinstance(body["worker"], str) and body["worker"] != "ok"  # no worker runs in this test


def test_healthz_sees_a_worker_beat(app, client):
    from webapp.queue.heartbeat import beat

    with app.app_context():
        beat("test-host:1")
    assert client.get("/healthz").get_json()["worker"] == "ok"


# ---------------------------------------------------------------- pages


@pytest.mark.parametrize("url", PAGES)
def test_page_renders_with_csrf_meta(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    match = META_RE.search(response.get_data(as_text=True))
    assert match and len(match.group(1)) > 20


def test_run_page_for_unknown_run_is_404(client):
    assert client.get("/runs/999").status_code == 404


def test_unknown_page_is_an_html_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_unknown_page_asking_for_json_gets_json(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404 and "error" in response.get_json()


def test_cli_commands_registered(app):
    assert {"import", "export", "train", "predict"} <= set(app.cli.commands)


def test_web_side_never_imports_tensorflow(instance_path):
    # a fresh interpreter: other tests in this session may have imported TensorFlow already
    script = f"""
import io, json, sys
sys.path.insert(0, {str(REPO_ROOT)!r})
from tests.images import phone_jpeg
from tests.accounts import token_client
from webapp import create_app
app = create_app({{"TESTING": True, "INSTANCE_PATH": {str(instance_path)!r}, "BACKBONE_WEIGHTS": "none",
                  "IMAGE_SIZE": 32, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "x"}})
c = token_client(app)
c.post("/api/v1/photos", data={{"files": [(io.BytesIO(phone_jpeg()), "a.jpg")]}})
for url in ("/", "/api/v1/photos", "/api/v1/runs", "/api/v1/dataset", "/healthz"):
    c.get(url)
print(json.dumps(sorted(m for m in ("tensorflow", "keras") if m in sys.modules)))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBAPP_")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
