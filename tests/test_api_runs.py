"""/api/v1/runs and the run pages: parameters, trainability, one run at a time, cancel, pin, files, downloads.

Web-process tests: nothing here imports TensorFlow or trains. A finished run is made by inserting its row (and
small fake model files) directly; the real worker is exercised in test_worker.py.
"""

import io
import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.images import class_photo
from webapp.db import db
from webapp.db.models import TrainingRun
from webapp.services.runs import DEFAULT_PARAMS, clean_params

RUN_KEYS = {
    "id",
    "status",
    "params",
    "progress",
    "metrics",
    "error",
    "created_at",
    "started_at",
    "finished_at",
}
PROGRESS_KEYS = {"epoch", "epochs", "batch", "batches", "history"}
CLASS_INDEX = {"beer": 0, "wings": 1}
# The names the worker gives a run's files (webapp/ml/artifacts.py; not imported: it pulls in Keras).
WORKER_FILES = {
    "model": "model.keras",
    "curves": "learning_curves.png",
    "labels": "labels.json",
    "info": "model_info.json",
}
METRICS = {
    "accuracy": 0.75,
    "per_class": {"beer": {"precision": 1.0, "recall": 0.5}, "wings": {"precision": 0.67, "recall": 1.0}},
    "confusion_matrix": [[1, 1], [0, 2]],
    "labels": ["beer", "wings"],
}


# ---------------------------------------------------------------- helpers


def add_photos(client, n: int, cls_index: int, start: int = 0) -> list[int]:
    """Upload n distinct unlabeled photos (one request); their ids in upload order."""
    files = [
        (io.BytesIO(class_photo(cls_index, start + i, size=(40, 32))), f"c{cls_index}-{start + i}.jpg")
        for i in range(n)
    ]
    response = client.post("/api/v1/photos", data={"files": files}, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["stored"] * n, results
    return [r["photo"]["id"] for r in results]


def patch_photo(client, photo_id: int, **changes) -> dict:
    response = client.patch(f"/api/v1/photos/{photo_id}", json=changes)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def labeled(client, counts: dict[str, int], start: int = 0) -> dict[str, list[int]]:
    """Upload and label photos through the API: {class name: n} -> {class name: ids}."""
    ids = {}
    for name, n in counts.items():
        ids[name] = add_photos(client, n, CLASS_INDEX[name], start)
        for photo_id in ids[name]:
            patch_photo(client, photo_id, label=name)
    return ids


def start(client, body=None):
    return client.post("/api/v1/runs", json=body if body is not None else {})


def insert_run(app, status="succeeded", files: dict | None = None, **fields) -> int:
    """Insert a run row directly (files: {name: bytes} written to instance/models/<id>/); its id."""
    now = datetime.now(UTC)
    finished = status in ("succeeded", "failed", "cancelled")
    values = {
        "status": status,
        "params": dict(DEFAULT_PARAMS),
        "dataset": {"labels": ["beer", "wings"], "items": [], "train": 0, "val": 0, "test": 0},
        "progress": {"stage": status},
        "metrics": METRICS if status == "succeeded" else None,
        "artifacts": {},
        "started_at": None if status == "queued" else now - timedelta(minutes=2),
        "finished_at": now if finished else None,
        **fields,
    }
    with app.app_context():
        run = TrainingRun(**values)
        db.session.add(run)
        db.session.commit()
        run_id = run.id
        if files:
            folder = models_dir(app) / str(run_id)
            folder.mkdir(parents=True)
            for name, body in files.items():
                (folder / name).write_bytes(body)
            run.artifacts = {
                **{k: v for k, v in WORKER_FILES.items() if v in files},
                "bytes": sum(len(b) for b in files.values()),
            }
            db.session.commit()
    return run_id


def fake_files() -> dict[str, bytes]:
    return {
        "model.keras": b"PK\x03\x04 fake keras archive",
        "learning_curves.png": b"\x89PNG\r\n\x1a\n fake curves",
        "labels.json": b'["beer", "wings"]',
        "model_info.json": b'{"labels": ["beer", "wings"]}',
    }


def models_dir(app) -> Path:
    return Path(app.config["INSTANCE_PATH"]) / "models"


def get_run(client, run_id: int) -> dict:
    response = client.get(f"/api/v1/runs/{run_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def pending_training(app) -> list[tuple]:
    """The train_run tasks waiting in the queue, as argument tuples."""
    return [t.args for t in app.extensions["huey"].pending() if t.name == "train_run"]


def fetch(client, url: str, **kwargs):
    """GET and close the response (send_file keeps the file open until closed)."""
    response = client.get(url, **kwargs)
    response.get_data()
    response.close()
    return response


# ---------------------------------------------------------------- parameters


BAD_BODIES = [
    ({"epochs": 0}, "epochs"),
    ({"epochs": 201}, "epochs"),
    ({"epochs": -1}, "epochs"),
    ({"epochs": 2.5}, "epochs"),
    ({"epochs": "five"}, "epochs"),
    ({"epochs": True}, "epochs"),
    ({"epochs": [5]}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 513}, "batch_size"),
    ({"batch_size": "32.0"}, "batch_size"),
    ({"trainable_layers": -1}, "trainable_layers"),
    ({"trainable_layers": 19}, "trainable_layers"),  # VGG16 has 18 layers; the worker refused 19 too
    ({"epochs": "8"}, "epochs"),
    ({"learning_rate": "0.001"}, "learning_rate"),
    ({"trainable_layers": {"n": 4}}, "trainable_layers"),
    ({"learning_rate": 0}, "learning_rate"),
    ({"learning_rate": -0.001}, "learning_rate"),
    ({"learning_rate": 1.5}, "learning_rate"),
    ({"learning_rate": "fast"}, "learning_rate"),
    ({"learning_rate": "nan"}, "learning_rate"),
    ({"learning_rate": "inf"}, "learning_rate"),
    ({"learning_rate": True}, "learning_rate"),
    ({"learning_rate": [0.001]}, "learning_rate"),
    ({"epoch": 5}, "epoch"),
    ({"epochs": 5, "optimizer": "adam"}, "optimizer"),
]


@pytest.mark.parametrize("body, word", BAD_BODIES)
def test_bad_parameters_are_refused_with_json_error(client, body, word):
    response = start(client, body)
    assert response.status_code == 400
    assert response.is_json
    error = response.get_json()["error"]
    assert isinstance(error, str) and word in error
    assert "two classes" not in error  # the parameter is checked first, whatever the photos


def test_bad_parameters_never_create_a_run(app, client):
    # Photos enough to train, so that only the parameter can be the reason for the refusal.
    labeled(client, {"beer": 4, "wings": 4})
    accepted = [body for body, _word in BAD_BODIES if start(client, body).status_code != 400]
    assert accepted == []
    assert client.get("/api/v1/runs").get_json() == []
    assert pending_training(app) == []
    assert start(client).status_code == 202  # and the same photos do train with good settings


def test_a_body_that_is_not_an_object_is_refused(client):
    response = client.post("/api/v1/runs", json=[1, 2])
    assert response.status_code == 400
    assert "JSON object" in response.get_json()["error"]


@pytest.mark.parametrize(
    "body, expected",
    [
        ({}, DEFAULT_PARAMS),
        (
            {"epochs": 1, "batch_size": 1, "trainable_layers": 0},
            {"epochs": 1, "batch_size": 1, "trainable_layers": 0},
        ),
        (
            {"epochs": 200, "batch_size": 512, "trainable_layers": 18},
            {"epochs": 200, "batch_size": 512, "trainable_layers": 18},
        ),
        ({"learning_rate": 1}, {"learning_rate": 1}),
        ({"learning_rate": 0.001}, {"learning_rate": 0.001}),
        ({"epochs": None, "learning_rate": None}, {"epochs": 5, "learning_rate": 1e-4}),
    ],
)
def test_good_parameters_are_accepted(body, expected):
    params = clean_params(body)
    assert set(params) == set(DEFAULT_PARAMS)
    for key, value in expected.items():
        assert params[key] == value and type(params[key]) is type(value)


def test_posted_parameters_are_stored_on_the_run(client):
    labeled(client, {"beer": 4, "wings": 4})
    body = {"epochs": 12, "batch_size": 8, "learning_rate": 0.0005, "trainable_layers": 0}
    response = start(client, body)
    assert response.status_code == 202, response.get_json()
    expected = {**body, "backbone": "vgg16"}  # the default backbone
    assert response.get_json()["params"] == expected
    run = get_run(client, response.get_json()["id"])
    assert run["params"] == expected
    assert run["progress"]["epochs"] == 12


# ---------------------------------------------------------------- trainability


def test_refused_without_any_labeled_photo(app, client):
    add_photos(client, 3, 0)
    response = start(client)
    assert response.status_code == 400
    assert "at least two classes" in response.get_json()["error"]
    assert client.get("/api/v1/runs").get_json() == []
    assert pending_training(app) == []


def test_refused_with_one_class(app, client):
    labeled(client, {"beer": 6})
    response = start(client)
    assert response.status_code == 400
    body = response.get_json()
    assert "at least two classes" in body["error"]
    assert any("two classes" in p for p in body["problems"])
    assert client.get("/api/v1/runs").get_json() == []
    assert pending_training(app) == []


def test_refused_when_a_class_has_fewer_than_three_photos(app, client):
    labeled(client, {"beer": 6, "wings": 2})
    response = start(client)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "at least 3 labeled photos" in error
    assert "wings" in error and "beer" not in error.split("too few:")[1]
    assert client.get("/api/v1/runs").get_json() == []


def test_refused_without_validation_or_test_photos(app, client):
    ids = labeled(client, {"beer": 4, "wings": 4})
    for photo_id in ids["beer"] + ids["wings"]:
        patch_photo(client, photo_id, split="train")
    response = start(client)
    assert response.status_code == 400
    assert "no validation or test photos" in response.get_json()["error"]
    assert client.get("/api/v1/runs").get_json() == []


def test_three_photos_per_class_is_enough_to_train(client):
    # The minimum of three photos per class splits train, val, test: every split has a photo.
    labeled(client, {"beer": 3, "wings": 3})
    assert start(client).status_code == 202


def test_refused_without_test_photos(client):
    ids = labeled(client, {"beer": 3, "wings": 3})
    for photo_id in ids["beer"] + ids["wings"]:
        if client.get(f"/api/v1/photos/{photo_id}").get_json()["split"] == "test":
            patch_photo(client, photo_id, split="val")
    response = start(client)
    assert response.status_code == 400
    assert "no validation or test photos" in response.get_json()["error"]


def test_refused_without_training_photos(client):
    ids = labeled(client, {"beer": 4, "wings": 4})
    for i, photo_id in enumerate(ids["beer"] + ids["wings"]):
        patch_photo(client, photo_id, split="val" if i % 2 else "test")
    response = start(client)
    assert response.status_code == 400
    assert "no training photos" in response.get_json()["error"]


def test_trashed_photos_do_not_count(client):
    ids = labeled(client, {"beer": 4, "wings": 4})
    client.delete(f"/api/v1/photos/{ids['wings'][0]}")
    client.delete(f"/api/v1/photos/{ids['wings'][1]}")
    response = start(client)
    assert response.status_code == 400
    assert "too few: wings" in response.get_json()["error"]


# ---------------------------------------------------------------- starting a run


def test_start_returns_202_with_the_run(app, client):
    labeled(client, {"beer": 4, "wings": 4})
    response = start(client)
    assert response.status_code == 202
    run = response.get_json()
    assert set(run) >= RUN_KEYS
    assert set(run["progress"]) >= PROGRESS_KEYS
    assert run["status"] == "queued"
    assert run["params"] == DEFAULT_PARAMS
    assert run["progress"]["epoch"] == 0 and run["progress"]["epochs"] == 5
    assert run["progress"]["batch"] == 0 and run["progress"]["history"] == []
    assert run["metrics"] is None and run["error"] is None
    assert run["started_at"] is None and run["finished_at"] is None
    created = datetime.fromisoformat(run["created_at"])
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)
    assert run["warnings"] == []
    assert get_run(client, run["id"])["status"] == "queued"
    assert pending_training(app) == [(run["id"],)]


def test_start_without_a_body_uses_the_defaults(client):
    labeled(client, {"beer": 4, "wings": 4})
    response = client.post("/api/v1/runs")
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["params"] == DEFAULT_PARAMS


def test_the_run_keeps_a_snapshot_of_the_dataset(app, client):
    ids = labeled(client, {"beer": 5, "wings": 4})
    unlabeled = add_photos(client, 1, 2)
    trashed = labeled(client, {"beer": 1}, start=50)["beer"]
    client.delete(f"/api/v1/photos/{trashed[0]}")
    response = start(client)
    assert response.status_code == 202, response.get_json()
    run = response.get_json()
    assert run["dataset"] == {
        "labels": ["beer", "wings"],
        "per_class": {
            "beer": {"train": 3, "val": 1, "test": 1},
            "wings": {"train": 2, "val": 1, "test": 1},
        },
        "train": 5,
        "val": 2,
        "test": 2,
    }
    with app.app_context():
        items = db.session.get(TrainingRun, run["id"]).dataset_items
    assert [item[0] for item in items] == sorted(ids["beer"] + ids["wings"])
    assert unlabeled[0] not in [item[0] for item in items]
    assert {tuple(item[3:]) for item in items if item[0] in ids["wings"]} == {
        (1, "train"),
        (1, "val"),
        (1, "test"),
    }
    # Labeling more photos later does not change what the run trains on.
    labeled(client, {"wings": 3}, start=60)
    assert get_run(client, run["id"])["dataset"]["per_class"]["wings"] == {"train": 2, "val": 1, "test": 1}


def test_a_second_start_while_queued_is_409_with_that_run(app, client):
    labeled(client, {"beer": 4, "wings": 4})
    first = start(client).get_json()
    response = start(client, {"epochs": 9})
    assert response.status_code == 409
    body = response.get_json()
    assert "already in progress" in body["error"]
    assert body["run"]["id"] == first["id"]
    assert body["run"]["status"] == "queued"
    assert set(body["run"]) >= RUN_KEYS
    assert [r["id"] for r in client.get("/api/v1/runs").get_json()] == [first["id"]]
    assert pending_training(app) == [(first["id"],)]


def test_a_start_while_running_is_409(app, client):
    labeled(client, {"beer": 4, "wings": 4})
    running = insert_run(app, "running", worker="elsewhere:1", heartbeat_at=datetime.now(UTC))
    response = start(client)
    assert response.status_code == 409
    assert response.get_json()["run"]["id"] == running
    assert response.get_json()["run"]["status"] == "running"


def test_a_new_run_can_start_after_the_last_one_is_cancelled(client):
    labeled(client, {"beer": 4, "wings": 4})
    first = start(client).get_json()["id"]
    assert client.post(f"/api/v1/runs/{first}/cancel").status_code == 200
    response = start(client)
    assert response.status_code == 202
    assert response.get_json()["id"] != first


def test_imbalance_over_two_to_one_warns_but_starts(client):
    labeled(client, {"beer": 9, "wings": 4})
    response = start(client)
    assert response.status_code == 202, response.get_json()
    warnings = response.get_json()["warnings"]
    assert len(warnings) == 1
    assert "imbalanced" in warnings[0] and '"beer" has 9' in warnings[0] and '"wings" only 4' in warnings[0]
    assert get_run(client, response.get_json()["id"])["warnings"] == warnings


def test_exactly_two_to_one_does_not_warn(client):
    labeled(client, {"beer": 8, "wings": 4})
    response = start(client)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["warnings"] == []


# ---------------------------------------------------------------- cancel


def test_cancel_a_queued_run_at_once(client):
    labeled(client, {"beer": 4, "wings": 4})
    run_id = start(client).get_json()["id"]
    response = client.post(f"/api/v1/runs/{run_id}/cancel")
    assert response.status_code == 200
    run = response.get_json()
    assert run["status"] == "cancelled"
    assert run["finished_at"] is not None
    assert run["error"]
    assert get_run(client, run_id)["status"] == "cancelled"
    # Cancelling twice is a conflict, not a silent success.
    again = client.post(f"/api/v1/runs/{run_id}/cancel")
    assert again.status_code == 409
    assert "cancelled" in again.get_json()["error"]


@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_cancel_a_finished_run_is_409(app, client, status):
    run_id = insert_run(app, status)
    response = client.post(f"/api/v1/runs/{run_id}/cancel")
    assert response.status_code == 409
    assert status in response.get_json()["error"]
    assert get_run(client, run_id)["status"] == status


def test_cancel_a_running_run_asks_the_worker(app, client):
    run_id = insert_run(app, "running", worker="elsewhere:1", heartbeat_at=datetime.now(UTC))
    assert get_run(client, run_id)["cancel_requested"] is False
    response = client.post(f"/api/v1/runs/{run_id}/cancel")
    assert response.status_code == 200
    assert response.get_json()["status"] == "running"
    assert response.get_json()["cancel_requested"] is True
    with app.app_context():
        assert db.session.get(TrainingRun, run_id).cancel_requested is True


def test_cancel_an_unknown_run_is_404(client):
    response = client.post("/api/v1/runs/999/cancel")
    assert response.status_code == 404
    assert "999" in response.get_json()["error"]


# ---------------------------------------------------------------- listing and the active model


def test_list_is_newest_first_with_one_active(app, client):
    first = insert_run(app, "succeeded", files=fake_files())
    second = insert_run(app, "failed", error="boom")
    third = insert_run(app, "succeeded", files=fake_files())
    fourth = insert_run(app, "cancelled")
    runs = client.get("/api/v1/runs").get_json()
    assert [r["id"] for r in runs] == [fourth, third, second, first]
    assert [r["id"] for r in runs if r["active"]] == [third]
    assert all(set(r) >= RUN_KEYS for r in runs)


def test_the_runs_list_is_paged_with_a_total_and_links(app, client):
    ids = [insert_run(app, "failed", error=f"run {n}") for n in range(7)]
    first = client.get("/api/v1/runs?per_page=3")
    assert first.status_code == 200
    assert [r["id"] for r in first.get_json()] == ids[::-1][:3]
    assert first.headers["X-Total-Count"] == "7"
    assert 'rel="next"' in first.headers["Link"] and "page=2" in first.headers["Link"]
    assert 'rel="prev"' not in first.headers["Link"]
    last = client.get("/api/v1/runs?per_page=3&page=3")
    assert [r["id"] for r in last.get_json()] == [ids[0]]
    assert 'rel="next"' not in last.headers["Link"] and 'rel="prev"' in last.headers["Link"]
    assert client.get("/api/v1/runs?per_page=3&page=4").get_json() == []
    # Without arguments: the newest RUNS_PER_PAGE (50) runs, still a plain JSON list (DESIGN.md).
    assert len(client.get("/api/v1/runs").get_json()) == 7


@pytest.mark.parametrize("query", ["page=0", "per_page=0", "per_page=201", "page=two"])
def test_bad_runs_paging_is_400(client, query):
    response = client.get(f"/api/v1/runs?{query}")
    assert response.status_code == 400 and "page" in response.get_json()["error"]


def test_polled_run_queries_never_read_the_snapshot_items(app, client):
    from sqlalchemy import event, text

    labeled(client, {"beer": 4, "wings": 4})
    run_id = start(client).get_json()["id"]
    beer = next(c for c in client.get("/api/v1/classes").get_json() if c["name"] == "beer")
    with app.app_context():
        engine = db.engine
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        for url in ("/api/v1/runs", f"/api/v1/runs/{run_id}", "/train", f"/runs/{run_id}", "/api/v1/photos"):
            assert client.get(url).status_code == 200, url
        assert client.patch(f"/api/v1/classes/{beer['id']}", json={"name": "lager"}).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    run_reads = [s for s in statements if "FROM training_run" in s]
    assert run_reads and not [s for s in run_reads if "dataset_items" in s]
    # ... and the summary those queries do read holds no per-photo list (it did: one item per photo).
    with app.app_context():
        summary = db.session.execute(text("SELECT dataset FROM training_run")).scalar_one()
        assert len(db.session.get(TrainingRun, run_id).dataset_items) == 8
    assert "items" not in json.loads(summary) and json.loads(summary)["labels"] == ["lager", "wings"]


def test_the_migration_moves_old_snapshot_items_out_of_the_summary(app):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from webapp.db.setup import MIGRATIONS_DIR

    old = {"labels": ["beer", "wings"], "items": [[1, "a" * 64, "JPEG", 0, "train"]], "train": 1}
    with app.app_context():
        downgrade(directory=MIGRATIONS_DIR, revision="0001")
        db.session.execute(
            text(
                "INSERT INTO training_run (status, params, dataset, progress, artifacts, timings, weights,"
                " image_size, cancel_requested, pinned, created_at) VALUES ('succeeded', '{}', :d, '{}',"
                " '{}', '{}', 'none', 32, 0, 0, '2026-01-01 00:00:00')"
            ),
            {"d": json.dumps(old)},
        )
        db.session.commit()
        upgrade(directory=MIGRATIONS_DIR)
        run = db.session.scalars(db.select(TrainingRun)).one()
        assert run.dataset == {"labels": ["beer", "wings"], "train": 1}
        assert run.dataset_items == old["items"]
        db.session.rollback()
        downgrade(directory=MIGRATIONS_DIR, revision="0001")
        back = db.session.execute(text("SELECT dataset FROM training_run")).scalar_one()
        assert json.loads(back) == old
        db.session.rollback()
        upgrade(directory=MIGRATIONS_DIR)


def test_get_unknown_run_is_404_json(client):
    response = client.get("/api/v1/runs/4242")
    assert response.status_code == 404
    assert "4242" in response.get_json()["error"]


# ---------------------------------------------------------------- pin


def test_pin_a_succeeded_run_makes_it_active(app, client):
    older = insert_run(app, "succeeded", files=fake_files())
    newer = insert_run(app, "succeeded", files=fake_files())
    assert get_run(client, newer)["active"] is True
    response = client.post(f"/api/v1/runs/{older}/pin", json={"pinned": True})
    assert response.status_code == 200
    assert response.get_json()["pinned"] is True and response.get_json()["active"] is True
    runs = {r["id"]: r for r in client.get("/api/v1/runs").get_json()}
    assert runs[older]["active"] and not runs[newer]["active"]
    assert get_run(client, newer)["active"] is False
    # Pinning the other unpins the first: one pinned run at most.
    client.post(f"/api/v1/runs/{newer}/pin", json={})
    assert get_run(client, older)["pinned"] is False
    assert get_run(client, newer)["pinned"] is True
    # Unpinning goes back to the newest succeeded run.
    response = client.post(f"/api/v1/runs/{newer}/pin", json={"pinned": False})
    assert response.status_code == 200 and response.get_json()["pinned"] is False
    assert get_run(client, newer)["active"] is True


@pytest.mark.parametrize("status", ["failed", "cancelled", "running", "queued"])
def test_pin_refuses_runs_that_did_not_succeed(app, client, status):
    run_id = insert_run(app, status, artifacts={"model": "model.keras"})
    response = client.post(f"/api/v1/runs/{run_id}/pin", json={"pinned": True})
    assert response.status_code == 409
    assert "error" in response.get_json()
    assert get_run(client, run_id)["pinned"] is False


def test_pin_refuses_a_run_without_model_files(app, client):
    run_id = insert_run(app, "succeeded")
    response = client.post(f"/api/v1/runs/{run_id}/pin")
    assert response.status_code == 409
    assert "model files" in response.get_json()["error"]
    assert get_run(client, run_id)["pinned"] is False


# ---------------------------------------------------------------- deleting model files


def test_delete_files_keeps_metrics_removes_folder_and_unpins(app, client):
    run_id = insert_run(app, "succeeded", files=fake_files())
    client.post(f"/api/v1/runs/{run_id}/pin")
    before = get_run(client, run_id)
    assert before["pinned"] and before["has_model_files"] and before["model_bytes"] > 0
    folder = models_dir(app) / str(run_id)
    assert folder.is_dir()
    response = client.delete(f"/api/v1/runs/{run_id}/files")
    assert response.status_code == 200
    after = response.get_json()
    assert not folder.exists()
    assert after["metrics"] == METRICS
    assert after["pinned"] is False
    assert after["has_model_files"] is False and after["model_bytes"] == 0
    assert after["curves_url"] is None
    assert after["status"] == "succeeded"
    assert get_run(client, run_id)["metrics"] == METRICS
    assert fetch(client, f"/runs/{run_id}/download/model.keras").status_code == 404
    # With its files gone it cannot be pinned again.
    assert client.post(f"/api/v1/runs/{run_id}/pin").status_code == 409


@pytest.mark.parametrize("status", ["queued", "running"])
def test_delete_files_of_an_unfinished_run_is_409(app, client, status):
    run_id = insert_run(app, status, files=fake_files())
    response = client.delete(f"/api/v1/runs/{run_id}/files")
    assert response.status_code == 409
    assert (models_dir(app) / str(run_id) / "model.keras").is_file()


def test_storage_counts_model_files(app, client):
    insert_run(app, "succeeded", files=fake_files())
    use = client.get("/api/v1/storage").get_json()
    assert use["models_bytes"] == sum(len(b) for b in fake_files().values())


def test_storage_figures_are_measured_once_then_kept(app, client):
    app.config["STORAGE_CACHE_SECONDS"] = 3600
    run_id = insert_run(app, "succeeded", files=fake_files())
    size = sum(len(b) for b in fake_files().values())
    assert client.get("/api/v1/storage").get_json()["models_bytes"] == size
    (models_dir(app) / "extra.bin").write_bytes(b"x" * 1000)
    again = client.get("/api/v1/storage").get_json()
    assert again["models_bytes"] == size  # not walked again for every poll
    assert 0 <= again["measured_seconds_ago"] < 3600
    # Deleting a run's files measures again, so the page shows the space it freed.
    assert client.delete(f"/api/v1/runs/{run_id}/files").status_code == 200
    assert client.get("/api/v1/storage").get_json()["models_bytes"] == 1000
    app.config["STORAGE_CACHE_SECONDS"] = 0
    (models_dir(app) / "more.bin").write_bytes(b"x" * 24)
    assert client.get("/api/v1/storage").get_json()["models_bytes"] == 1024


def test_storage_is_measured_again_when_a_run_ends(app, client):
    # Right after a run the Train page lists its files: the disk figure must not lag behind for a minute.
    app.config["STORAGE_CACHE_SECONDS"] = 3600
    assert client.get("/api/v1/storage").get_json()["models_bytes"] == 0
    insert_run(app, "succeeded", files=fake_files())
    size = sum(len(b) for b in fake_files().values())
    assert client.get("/api/v1/storage").get_json()["models_bytes"] == size


# ---------------------------------------------------------------- pages and downloads


def test_run_page(app, client):
    run_id = insert_run(app, "succeeded", files=fake_files())
    response = client.get(f"/runs/{run_id}")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert f'data-run-id="{run_id}"' in response.get_data(as_text=True)


def test_run_page_of_unknown_run_is_404(client):
    response = client.get("/runs/777")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert client.get("/runs/777", headers={"Accept": "application/json"}).get_json()["error"]


def test_curves_url_points_at_a_download_that_works(app, client):
    files = fake_files()
    run_id = insert_run(app, "succeeded", files=files)
    url = get_run(client, run_id)["curves_url"]
    assert url == f"/runs/{run_id}/download/curves.png"
    response = fetch(client, url)
    assert response.status_code == 200, "the curves the worker wrote (learning_curves.png) must be served"
    assert response.mimetype == "image/png"
    assert response.get_data() == files["learning_curves.png"]
    assert "attachment" not in response.headers.get("Content-Disposition", "")


@pytest.mark.parametrize(
    "name, stored, mimetype",
    [
        ("model.keras", "model.keras", "application/octet-stream"),
        ("labels.json", "labels.json", "application/json"),
    ],
)
def test_model_downloads_are_attachments(app, client, name, stored, mimetype):
    files = fake_files()
    run_id = insert_run(app, "succeeded", files=files)
    response = fetch(client, f"/runs/{run_id}/download/{name}")
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.get_data() == files[stored]
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and f"run{run_id}-{name}" in disposition


def test_missing_download_is_404_page_or_json(app, client):
    run_id = insert_run(app, "succeeded", files={"model.keras": b"x"})
    page = fetch(client, f"/runs/{run_id}/download/labels.json")
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    api = fetch(client, f"/runs/{run_id}/download/labels.json", headers={"Accept": "application/json"})
    assert api.status_code == 404
    assert "labels.json" in api.get_json()["error"]


@pytest.mark.parametrize(
    "url", ["/runs/{id}/download/app.db", "/runs/{id}/download/..%2Fapp.db", "/runs/999/download/model.keras"]
)
def test_other_downloads_are_404(app, client, url):
    run_id = insert_run(app, "succeeded", files=fake_files())
    response = fetch(client, url.format(id=run_id))
    assert response.status_code == 404


def test_a_run_whose_worker_died_does_not_block_train(app, client):
    labeled(client, {"beer": 4, "wings": 4})
    dead = insert_run(
        app, "running", worker=f"{socket.gethostname()}:999999999", progress={"stage": "training", "epoch": 3}
    )
    response = start(client)
    assert response.status_code == 202, response.get_json()
    old = get_run(client, dead)
    assert old["status"] == "failed" and "epoch 3" in old["error"]


def test_the_active_model_skips_runs_whose_files_were_deleted(app, client):
    older = insert_run(app, "succeeded", files=fake_files())
    newer = insert_run(app, "succeeded", files=fake_files())
    assert client.delete(f"/api/v1/runs/{newer}/files").status_code == 200
    runs = {r["id"]: r for r in client.get("/api/v1/runs").get_json()}
    assert runs[older]["active"] and not runs[newer]["active"]


def test_emptying_the_trash_waits_for_a_running_run(app, client):
    ids = labeled(client, {"beer": 4, "wings": 4})
    client.delete(f"/api/v1/photos/{ids['beer'][0]}")
    insert_run(app, "running", worker="elsewhere:1", heartbeat_at=datetime.now(UTC))
    response = client.post("/api/v1/trash/empty")
    assert response.status_code == 409 and "training run" in response.get_json()["error"]
    assert client.get(f"/api/v1/photos/{ids['beer'][0]}").status_code == 200


def test_older_model_files_are_pruned_but_pinned_ones_stay(app):
    from webapp.worker.jobs import prune_model_files

    ids = [insert_run(app, "succeeded", files=fake_files()) for _ in range(5)]
    with app.app_context():
        db.session.get(TrainingRun, ids[0]).pinned = True
        db.session.commit()
        pruned = prune_model_files(current_id=99, keep=3)
        kept = {r.id for r in db.session.scalars(db.select(TrainingRun)) if r.artifacts.get("model")}
    assert pruned == [ids[2], ids[1]]
    assert kept == {ids[0], ids[3], ids[4]}
    assert not (models_dir(app) / str(ids[1])).exists() and (models_dir(app) / str(ids[0])).exists()
