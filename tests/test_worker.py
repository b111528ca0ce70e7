"""The real queue and worker processes: train, cancel, fail clearly, survive kill -9, one run at a time."""

import os
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.images import class_photo
from tests.live import ROOT, LiveApp, app_env, wait_until

pytestmark = pytest.mark.slow
FINISHED = ("succeeded", "failed", "cancelled")


@pytest.fixture
def live(tmp_path):
    """An app on a fresh instance, CSRF off, not yet started."""
    app = LiveApp(tmp_path, app_env(tmp_path, WEBAPP_WTF_CSRF_ENABLED="false"))
    yield app
    app.stop()


def upload_labeled(live: LiveApp, per_class: int = 8) -> None:
    """Upload per_class photos of beer and wings (a dominant colour each) and label them."""
    files = [
        ("files", (f"{name}_{i}.jpg", class_photo(k, i), "image/jpeg"))
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
        from tests.images import class_photo
        from webapp import create_app
        app = create_app({"INSTANCE_PATH": sys.argv[1], "WTF_CSRF_ENABLED": False, "BACKBONE_WEIGHTS": "none",
                          "IMAGE_SIZE": 32, "PREDICT_TIMEOUT": 1})
        c = app.test_client()
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
