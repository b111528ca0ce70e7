"""The real queue and worker processes: train, cancel, fail clearly, survive kill -9, one run at a time."""

import io
import os
import signal
import socket
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.accounts import token_client
from tests.images import class_photo
from tests.live import ROOT, LiveApp, app_env, wait_until

pytestmark = pytest.mark.slow
FINISHED = ("succeeded", "failed", "cancelled")


def upload_labeled(live: LiveApp, per_class: int = 8, make=class_photo) -> None:
    """Upload per_class photos of beer and wings (a dominant colour each, made by make) and label them."""
    files = [
        ("files", (f"{name}_{i}.jpg", make(k, i), "image/jpeg"))
        for k, name in enumerate(["beer", "wings"])
        for i in range(per_class)
    ]
    results = live.post("/api/v1/photos", files=files).json()["results"]
    assert [r["status"] for r in results] == ["stored"] * len(files)
    for r in results:
        label = r["photo"]["filename"].split("_")[0]
        assert live.patch(f"/api/v1/photos/{r['photo']['id']}", json={"label": label}).status_code == 200


def wait_run(live: LiveApp, run_id: int, until=FINISHED, timeout: float = 240) -> dict:
    """Poll a run until its status is one of until."""
    return wait_until(
        lambda: (r := live.get(f"/api/v1/runs/{run_id}").json())["status"] in until and r,
        timeout,
        f"run {run_id} did not reach {until}",
    )


def test_training_end_to_end_through_the_real_worker(live):
    live.start()
    upload_labeled(live)
    live.wait_for_worker()
    response = live.post("/api/v1/runs", json={"epochs": 20, "batch_size": 4})
    assert response.status_code == 202, response.text
    run = wait_run(live, response.json()["id"])
    assert run["status"] == "succeeded", run["error"]
    assert run["metrics"]["accuracy"] >= 0.9
    assert set(run["metrics"]["per_class"]) == {"beer", "wings"}
    assert len(run["progress"]["history"]) == 20
    assert (live.instance / "models" / str(run["id"]) / "model.keras").is_file()
    preds = live.get(f"/api/v1/runs/{run['id']}/predictions?per_page=100").json()
    assert preds["total"] == 16
    right = [p for p in preds["predictions"] if p["label"] == p["true_label"]]
    assert len(right) >= 14
    answer = live.post("/api/v1/predict", files={"file": ("x.jpg", class_photo(1, 99), "image/jpeg")})
    assert answer.status_code == 200, answer.text
    assert answer.json()["label"] == "wings" and answer.json()["run_id"] == run["id"]
    assert live.get(f"/runs/{run['id']}/download/labels.json").json() == ["beer", "wings"]
    # TFLite: made by a worker job on request; the download answers at once (409, then 202) until it is ready.
    assert live.get(f"/runs/{run['id']}/download/model.tflite").status_code == 409
    asked = live.post(f"/api/v1/runs/{run['id']}/tflite")
    assert asked.status_code == 202 and asked.json()["tflite"]["state"] in ("converting", "ready")
    done = wait_until(
        lambda: (t := live.get(f"/api/v1/runs/{run['id']}").json()["tflite"])["state"] != "converting" and t,
        300,
        "the TFLite conversion did not finish",
    )
    assert done["state"] == "ready", done["error"]
    tflite = live.get(f"/runs/{run['id']}/download/model.tflite")
    assert tflite.status_code == 200 and tflite.content[4:8] == b"TFL3"
    curves = live.get(f"/runs/{run['id']}/download/curves.png")
    assert curves.headers["Content-Type"] == "image/png" and curves.content[:4] == b"\x89PNG"


def test_ten_parallel_train_requests_create_one_run(live):
    live.start(with_worker=False)
    upload_labeled(live, per_class=5)
    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(lambda _: live.post("/api/v1/runs", json={"epochs": 1}), range(10)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [202] + [409] * 9
    started = next(r.json()["id"] for r in responses if r.status_code == 202)
    assert all(r.json()["run"]["id"] == started for r in responses if r.status_code == 409)
    assert len(live.get("/api/v1/runs").json()) == 1


def test_cancel_stops_a_running_run(live):
    live.start()
    upload_labeled(live, per_class=6)
    run = live.post("/api/v1/runs", json={"epochs": 200, "batch_size": 1}).json()
    wait_until(
        lambda: live.get(f"/api/v1/runs/{run['id']}").json()["progress"].get("epoch", 0) >= 1,
        120,
        "training did not start",
    )
    assert live.post(f"/api/v1/runs/{run['id']}/cancel").status_code == 200
    done = wait_run(live, run["id"], timeout=60)
    assert done["status"] == "cancelled"
    assert "Cancelled" in done["error"] and "epoch" in done["error"]


def test_bad_weights_path_fails_with_a_clear_error(tmp_path):
    live = LiveApp(
        tmp_path,
        app_env(
            tmp_path, WEBAPP_WTF_CSRF_ENABLED="false", WEBAPP_BACKBONE_WEIGHTS=str(tmp_path / "missing.h5")
        ),
    )
    try:
        live.start()
        upload_labeled(live, per_class=5)
        run = live.post("/api/v1/runs", json={}).json()
        done = wait_run(live, run["id"], timeout=120)
        assert done["status"] == "failed"
        assert "missing.h5" in done["error"]
        # One plain sentence for the page; the fix is on the server, so no button offers one.
        summary = "Training could not start: the VGG16 weights file set on the server could not be loaded."
        assert done["failure"] == {"kind": "weights", "summary": summary, "fix": None}
        assert live.get("/healthz").status_code == 200
    finally:
        live.stop()


def test_kill_9_of_the_worker_is_recovered(live):
    live.start(with_worker=False)
    upload_labeled(live, per_class=6)
    worker = live.start_worker()
    live.wait_for_worker()
    run = live.post("/api/v1/runs", json={"epochs": 200, "batch_size": 1}).json()
    wait_until(
        lambda: live.get(f"/api/v1/runs/{run['id']}").json()["progress"].get("epoch", 0) >= 2,
        120,
        "training did not reach epoch 2",
    )
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    assert live.get(f"/api/v1/runs/{run['id']}").json()["status"] == "running"  # nobody knows yet
    live.start_worker()
    done = wait_run(live, run["id"], until=("failed",), timeout=90)
    assert "worker stopped during epoch" in done["error"]
    assert live.post("/api/v1/runs", json={"epochs": 1}).status_code == 202  # Train works again


def test_the_web_process_never_imports_tensorflow(tmp_path):
    script = textwrap.dedent("""
        import io
        import sys
        from tests.accounts import token_client
        from tests.images import class_photo
        from webapp import create_app
        app = create_app({"INSTANCE_PATH": sys.argv[1], "WTF_CSRF_ENABLED": False, "BACKBONE_WEIGHTS": "none",
                          "IMAGE_SIZE": 32, "PREDICT_TIMEOUT": 1})
        c = token_client(app)
        for i in range(4):
            for k, name in enumerate(["beer", "wings"]):
                data = {"files": (io.BytesIO(class_photo(k, i)), "a.jpg"), "label": name}
                r = c.post("/api/v1/photos", data=data)
                assert r.status_code == 200, r.text
        pages = ["/", "/label", "/photos", "/classes", "/train", "/gallery", "/healthz", "/export.zip"]
        apis = ["classes", "photos", "photos/1", "dataset", "runs", "storage"]
        for path in pages + ["/api/v1/" + a for a in apis]:
            assert c.get(path).status_code == 200, path
        assert c.post("/api/v1/runs", json={"epochs": 1}).status_code == 202
        assert c.get("/runs/1").status_code == 200
        assert c.get("/api/v1/runs/1/predictions").status_code == 200
        r = c.post("/api/v1/predict", data={"file": (io.BytesIO(class_photo(0, 9)), "x.jpg")})
        assert r.status_code == 503, r.text
        print("TF" if "tensorflow" in sys.modules or "keras" in sys.modules else "NO-TF")
    """)
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "NO-TF"


# ---------------------------------------------------------------- in this process, as `flask train` runs


def label_photos(client, per_class: int = 8) -> None:
    """Upload per_class labeled photos of beer and wings through the API."""
    for k, name in enumerate(["beer", "wings"]):
        for i in range(per_class):
            data = {"files": (io.BytesIO(class_photo(k, i)), f"{name}{i}.jpg"), "label": name}
            assert client.post("/api/v1/photos", data=data).status_code == 200


def train_here(app, epochs: int = 1) -> dict:
    """Create a run and train it in this process (the worker's job body, as `flask train` does); the run."""
    from webapp.services.runs import create_run
    from webapp.worker.jobs import train_run

    with app.app_context():
        run_id = create_run({"epochs": epochs, "batch_size": 4}, "none", 32).id
        train_run(run_id)
    return token_client(app).get(f"/api/v1/runs/{run_id}").get_json()


@pytest.fixture
def keep_one(app):
    """The app keeps the model files of the newest run only."""
    app.config["KEEP_MODEL_RUNS"] = 1
    return app


@pytest.fixture
def immutable():
    """chattr +i on paths (root can delete anything else); undone afterwards."""
    done = []

    def make(path):
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("chattr +i is not available here")
        done.append(path)

    yield make
    for path in done:
        if path.exists():
            subprocess.run(["chattr", "-i", str(path)], check=True)


def test_an_undeletable_old_model_keeps_its_entry_and_the_new_run_succeeds(
    keep_one, client, instance_path, immutable, caplog
):
    from webapp.worker.model_files import prune_model_files

    label_photos(client)
    first = train_here(keep_one)
    assert first["status"] == "succeeded", first["error"]
    old = instance_path / "models" / str(first["id"])
    immutable(old)  # the folder can be neither renamed nor emptied
    second = train_here(keep_one)
    assert (second["status"], second["error"]) == ("succeeded", None)
    # The old run's files could not go: they stay listed (not silently leaked) and the log says why.
    assert client.get(f"/api/v1/runs/{first['id']}").get_json()["has_model_files"] is True
    assert (old / "model.keras").is_file()
    assert f"could not prune the model files of run {first['id']}" in caplog.text
    subprocess.run(["chattr", "-i", str(old)], check=True)
    with keep_one.app_context():
        assert prune_model_files(second["id"], 1) == [first["id"]]  # retried: now they go
    assert not old.exists() and not list((instance_path / "models").glob(".removed-*"))
    assert client.get(f"/api/v1/runs/{first['id']}").get_json()["has_model_files"] is False


def test_a_pruning_failure_is_logged_never_the_runs_error(keep_one, client, monkeypatch, caplog):
    from webapp.worker import jobs

    def broken_prune(*_args):
        raise RuntimeError("the database went away while pruning")

    label_photos(client)
    monkeypatch.setattr(jobs, "prune_model_files", broken_prune)  # the fault, injected where pruning starts
    run = train_here(keep_one)
    assert (run["status"], run["error"]) == ("succeeded", None)
    assert run["active"] is True
    assert "pruning old model files after run" in caplog.text


# ---------------------------------------------------------------- no orphan processes


def proc_state(pid: int) -> str | None:
    """R, S, Z... of a process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def running(pid: int) -> bool:
    """Whether a process exists and is not a zombie (nobody may reap an orphan in a container)."""
    return proc_state(pid) not in (None, "Z", "X")


def descendants(pid: int) -> list[int]:
    """Every process below pid, from /proc (children of children too)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in os.listdir(f"/proc/{parent}/task") if os.path.isdir(f"/proc/{parent}/task") else []:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as handle:
                    kids = [int(k) for k in handle.read().split()]
            except OSError:
                kids = []
            found += kids
            todo += kids
    return found


def processes_of(instance) -> list[int]:
    """Live processes whose environment names this instance folder (the app's web and worker processes)."""
    marker = f"WEBAPP_INSTANCE_PATH={instance}\0".encode()
    pids = []
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                if marker in handle.read() and running(int(name)):
                    pids.append(int(name))
        except (OSError, ValueError):
            continue
    return pids


def test_kill_9_of_a_worker_takes_its_forked_children_along(live):
    live.start(with_worker=False)
    upload_labeled(live, per_class=6)
    worker = live.start_worker()
    live.wait_for_worker()
    run = live.post("/api/v1/runs", json={"epochs": 200, "batch_size": 1}).json()
    wait_until(
        lambda: live.get(f"/api/v1/runs/{run['id']}").json()["progress"].get("epoch", 0) >= 1,
        120,
        "training did not start",
    )
    children = descendants(worker.pid)
    assert children and all(running(pid) for pid in children)
    os.kill(worker.pid, signal.SIGKILL)  # the parent only, as `kill -9 <pid>` does
    worker.wait()
    try:
        # Before: the forked worker went on training, then took the next Train; SIGINT and SIGTERM left it.
        wait_until(lambda: not any(running(pid) for pid in children), 30, "the worker's children outlived it")
    finally:
        for pid in children:  # no orphan left behind by a failing run of this test
            if running(pid):
                os.kill(pid, signal.SIGKILL)
    retry = live.post("/api/v1/runs", json={"epochs": 1})
    assert retry.status_code == 202, retry.text  # Train works at once: the dead run is failed first
    done = live.get(f"/api/v1/runs/{run['id']}").json()
    assert done["status"] == "failed" and "worker stopped during epoch" in done["error"]


def test_a_port_in_use_stops_the_app_before_it_starts_a_worker(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with open(tmp_path / "out.log", "wb") as log:  # a file: an orphan holding a pipe would hang us
            code = subprocess.run(
                [sys.executable, "-m", "webapp", "--port", str(port)],
                cwd=ROOT,
                env=app_env(tmp_path),
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=120,
            ).returncode
        left = processes_of(tmp_path)  # at once: a worker started before the bind would still be here
    for pid in left:  # no orphan left behind by a failing run of this test
        os.kill(pid, signal.SIGKILL)
    out = (tmp_path / "out.log").read_text()
    assert code != 0
    assert f"Cannot listen on 127.0.0.1:{port}" in out and "--port" in out
    assert "Traceback" not in out
    assert left == []


def test_kill_9_of_the_web_process_takes_its_worker_along(live):
    live.start()
    live.wait_for_worker()
    assert len(processes_of(live.instance)) >= 3  # web, worker, its forked worker(s)
    os.kill(live.web.pid, signal.SIGKILL)
    live.web.wait()
    wait_until(lambda: processes_of(live.instance) == [], 60, "the worker outlived the web process")


@pytest.mark.parametrize("how", ["SIGTERM to the worker", "Ctrl-C in its terminal"])
def test_a_stopped_worker_leaves_no_process_behind(live, how):
    live.start(with_worker=False)
    worker = live.start_worker()
    live.wait_for_worker()
    children = descendants(worker.pid)
    assert children
    if how.startswith("SIGTERM"):
        os.kill(worker.pid, signal.SIGTERM)
    else:
        os.killpg(worker.pid, signal.SIGINT)  # the terminal signals the whole foreground group
    assert worker.wait(60) == 0
    wait_until(lambda: not any(running(pid) for pid in children), 30, "a forked worker outlived the stop")
