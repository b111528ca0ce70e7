"""/api/v1/classes (list, create, rename, colour, key, delete) and /api/v1/dataset counts."""

import io
import json
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.accounts import token_client
from tests.images import class_photo
from tests.test_scale_out import pg_url  # noqa: F401 (a fixture)

CLASS_KEYS = {"id", "name", "key", "color", "count"}


def classes(client) -> dict[str, dict]:
    """GET /api/v1/classes by name."""
    response = client.get("/api/v1/classes")
    assert response.status_code == 200
    return {c["name"]: c for c in response.get_json()}


def assert_json_error(response, status: int) -> dict:
    """The response is `status` with a JSON {"error": "<words>"}; returns the body."""
    assert response.status_code == status, response.data[:300]
    body = response.get_json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"].strip()
    return body


def add_photos(client, n: int, label: str | None = None, cls_index: int = 0, start: int = 0) -> list[int]:
    """Upload n distinct photos (optionally labeled) and return their ids."""
    files = [(io.BytesIO(class_photo(cls_index, start + i, size=(48, 36))), f"p{i}.jpg") for i in range(n)]
    form = {"files": files, **({"label": label} if label else {})}
    response = client.post("/api/v1/photos", data=form, content_type="multipart/form-data")
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["stored"] * n
    return [r["photo"]["id"] for r in results]


# ---------------------------------------------------------------- list and create


def test_default_classes(client):
    body = client.get("/api/v1/classes").get_json()
    assert [c["name"] for c in body] == ["beer", "wings"]
    for c in body:
        assert set(c) >= CLASS_KEYS and c["count"] == 0
    assert [c["key"] for c in body] == [1, 2]
    assert all(c["color"].startswith("#") and len(c["color"]) == 7 for c in body)
    assert body[0]["color"] != body[1]["color"]


def test_create_class(client):
    response = client.post("/api/v1/classes", json={"name": "pizza"})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) >= CLASS_KEYS and body["name"] == "pizza" and body["count"] == 0
    assert body["key"] == 3  # the next free key
    assert "pizza" in classes(client)


def test_create_class_with_colour_and_key(client):
    body = client.post("/api/v1/classes", json={"name": "fries", "color": "#AABBCC", "key": 7}).get_json()
    assert body["color"].lower() == "#aabbcc" and body["key"] == 7


def test_create_trims_whitespace(client):
    assert client.post("/api/v1/classes", json={"name": "  hot   dogs "}).get_json()["name"] == "hot dogs"


@pytest.mark.parametrize(
    "body,status",
    [
        ({"name": ""}, 400),
        ({"name": "   "}, 400),
        ({}, 400),
        ({"name": 5}, 400),
        ({"name": "x" * 65}, 400),
        ({"name": "a/b"}, 400),
        ({"name": ".."}, 400),
        ({"name": "beer"}, 409),
        ({"name": "BEER"}, 409),
        ({"name": "pizza", "color": "red"}, 400),
        ({"name": "pizza", "color": "#12345"}, 400),
        ({"name": "pizza", "color": "#12345g"}, 400),
        ({"name": "pizza", "key": 0}, 400),
        ({"name": "pizza", "key": 10}, 400),
        ({"name": "pizza", "key": "x"}, 400),
        ({"name": "pizza", "key": 1}, 409),
    ],
)
def test_create_invalid_is_refused(client, body, status):
    assert_json_error(client.post("/api/v1/classes", json=body), status)
    assert set(classes(client)) == {"beer", "wings"}


def test_create_needs_json(client):
    assert_json_error(client.post("/api/v1/classes", data={"name": "pizza"}), 400)


def test_tenth_class_gets_no_key(client):
    for i in range(7):
        assert client.post("/api/v1/classes", json={"name": f"c{i}"}).status_code == 201
    assert sorted(c["key"] for c in classes(client).values()) == list(range(1, 10))
    body = client.post("/api/v1/classes", json={"name": "tenth"}).get_json()
    assert body["key"] is None


# ---------------------------------------------------------------- update


def test_rename_keeps_photos_labeled(client):
    ids = add_photos(client, 2, label="beer")
    beer = classes(client)["beer"]
    response = client.patch(f"/api/v1/classes/{beer['id']}", json={"name": "lager"})
    assert response.status_code == 200 and response.get_json()["name"] == "lager"
    assert classes(client)["lager"]["count"] == 2
    assert client.get(f"/api/v1/photos/{ids[0]}").get_json()["label"] == "lager"
    assert client.get("/api/v1/photos?label=lager").get_json()["total"] == 2


def test_rename_to_same_name_other_case_is_allowed(client):
    beer = classes(client)["beer"]
    assert client.patch(f"/api/v1/classes/{beer['id']}", json={"name": "Beer"}).status_code == 200


def test_rename_to_taken_name_is_409(client):
    beer = classes(client)["beer"]
    assert_json_error(client.patch(f"/api/v1/classes/{beer['id']}", json={"name": "wings"}), 409)
    assert set(classes(client)) == {"beer", "wings"}


def test_recolour(client):
    beer = classes(client)["beer"]
    response = client.patch(f"/api/v1/classes/{beer['id']}", json={"color": "#00ff00"})
    assert response.status_code == 200 and response.get_json()["color"] == "#00ff00"
    for bad in ("green", "#0f0", "00ff00", "#00ff00ff", None, 123):
        assert_json_error(client.patch(f"/api/v1/classes/{beer['id']}", json={"color": bad}), 400)
    assert classes(client)["beer"]["color"] == "#00ff00"


def test_rekey_and_key_uniqueness(client):
    beer, wings = classes(client)["beer"], classes(client)["wings"]
    assert client.patch(f"/api/v1/classes/{beer['id']}", json={"key": 5}).get_json()["key"] == 5
    assert_json_error(client.patch(f"/api/v1/classes/{wings['id']}", json={"key": 5}), 409)
    for bad in (0, 10, -1, "a", 2.5, True):
        assert_json_error(client.patch(f"/api/v1/classes/{wings['id']}", json={"key": bad}), 400)
    assert classes(client)["wings"]["key"] == 2
    # a key can be cleared and then reused by another class
    assert client.patch(f"/api/v1/classes/{beer['id']}", json={"key": None}).get_json()["key"] is None
    assert client.patch(f"/api/v1/classes/{wings['id']}", json={"key": 5}).get_json()["key"] == 5


def test_swap_keys_through_a_free_key(client):
    beer, wings = classes(client)["beer"], classes(client)["wings"]
    client.patch(f"/api/v1/classes/{beer['id']}", json={"key": None})
    client.patch(f"/api/v1/classes/{wings['id']}", json={"key": 1})
    client.patch(f"/api/v1/classes/{beer['id']}", json={"key": 2})
    now = classes(client)
    assert (now["beer"]["key"], now["wings"]["key"]) == (2, 1)


def test_update_unknown_field_or_class(client):
    beer = classes(client)["beer"]
    assert_json_error(client.patch(f"/api/v1/classes/{beer['id']}", json={"shape": "round"}), 400)
    assert_json_error(client.patch("/api/v1/classes/999", json={"name": "x"}), 404)
    assert_json_error(client.patch(f"/api/v1/classes/{beer['id']}", data="name=x"), 400)


# ---------------------------------------------------------------- delete


def test_delete_empty_class(client):
    pizza = client.post("/api/v1/classes", json={"name": "pizza"}).get_json()
    response = client.delete(f"/api/v1/classes/{pizza['id']}")
    assert response.status_code == 200
    assert "pizza" not in classes(client)
    assert_json_error(client.delete(f"/api/v1/classes/{pizza['id']}"), 404)


def test_delete_class_with_photos_needs_force(client):
    ids = add_photos(client, 3, label="beer")
    beer = classes(client)["beer"]
    body = assert_json_error(client.delete(f"/api/v1/classes/{beer['id']}"), 409)
    assert body["count"] == 3
    assert classes(client)["beer"]["count"] == 3
    response = client.delete(f"/api/v1/classes/{beer['id']}?force=1")
    assert response.status_code == 200
    assert "beer" not in classes(client)
    for photo_id in ids:
        assert client.get(f"/api/v1/photos/{photo_id}").get_json()["label"] is None
    assert client.get("/api/v1/photos?unlabeled=1").get_json()["total"] == 3


def test_delete_then_recreate_starts_empty(client):
    add_photos(client, 2, label="beer")
    beer = classes(client)["beer"]
    client.delete(f"/api/v1/classes/{beer['id']}?force=1")
    assert client.post("/api/v1/classes", json={"name": "beer"}).status_code == 201
    assert classes(client)["beer"]["count"] == 0


def test_counts_follow_labels_and_trash(client):
    ids = add_photos(client, 3, label="wings")
    assert classes(client)["wings"]["count"] == 3
    client.patch(f"/api/v1/photos/{ids[0]}", json={"label": "beer"})
    client.delete(f"/api/v1/photos/{ids[1]}")
    now = classes(client)
    assert (now["beer"]["count"], now["wings"]["count"]) == (1, 1)


# ---------------------------------------------------------------- dataset


def test_dataset_counts(client):
    add_photos(client, 5, label="beer")
    wings = add_photos(client, 4, label="wings", cls_index=1)
    add_photos(client, 2, cls_index=2)
    client.delete(f"/api/v1/photos/{wings[0]}")
    response = client.get("/api/v1/dataset")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["total"], body["unlabeled"], body["trash"]) == (10, 2, 1)
    by_name = {c["name"]: c for c in body["classes"]}
    assert by_name["beer"]["count"] == 5 and by_name["wings"]["count"] == 3
    for c in by_name.values():
        assert c["train"] + c["val"] + c["test"] == c["count"]
    assert (by_name["beer"]["val"], by_name["beer"]["test"]) == (1, 1)
    assert body["imbalance"]["warning"] is False


def test_imbalance_warning_over_two_to_one(client):
    add_photos(client, 4, label="beer")
    add_photos(client, 2, label="wings", cls_index=1)
    assert client.get("/api/v1/dataset").get_json()["imbalance"]["warning"] is False  # exactly 2:1
    add_photos(client, 1, label="beer", start=10)
    imbalance = client.get("/api/v1/dataset").get_json()["imbalance"]
    assert imbalance["warning"] is True
    assert "beer" in imbalance["message"] and "wings" in imbalance["message"]


def test_no_imbalance_warning_without_two_labeled_classes(client):
    add_photos(client, 6, label="beer")
    assert client.get("/api/v1/dataset").get_json()["imbalance"]["warning"] is False


def test_non_ascii_names_compare_without_case(client):
    assert client.post("/api/v1/classes", json={"name": "Äpfel"}).status_code == 201
    assert_json_error(client.post("/api/v1/classes", json={"name": "äPFEL"}), 409)
    photo_id = add_photos(client, 1)[0]
    response = client.patch(f"/api/v1/photos/{photo_id}", json={"label": "äpfel"})
    assert response.status_code == 200 and response.get_json()["label"] == "Äpfel"
    assert client.get("/api/v1/photos?label=ÄPFEL").get_json()["total"] == 1


def test_a_superscript_digit_is_not_a_key(client):
    cls = classes(client)["beer"]
    assert_json_error(client.patch(f"/api/v1/classes/{cls['id']}", json={"key": "²"}), 400)


# ---------------------------------------------------------------- rename and the runs


def run_with_predictions(app, client) -> tuple[int, Path, dict[str, list[int]]]:
    """A succeeded run over beer/wings with its files on disk and predictions: one right and one wrong per
    class. Returns (run id, its folder, {true class: photo ids})."""
    from tests.test_api_runs import METRICS, fake_files, insert_run, models_dir
    from webapp.db import db
    from webapp.db.models import Prediction

    photos = {"beer": add_photos(client, 2, label="beer"), "wings": add_photos(client, 2, "wings", 1, 10)}
    info = {"labels": ["beer", "wings"], "metrics": METRICS, "feature_key": "f-32", "image_size": 32}
    files = {**fake_files(), "model_info.json": json.dumps(info).encode()}
    per_class = {"beer": {"train": 2, "val": 0, "test": 0}, "wings": {"train": 2, "val": 0, "test": 0}}
    dataset = {
        "labels": ["beer", "wings"],
        "items": [],
        "per_class": per_class,
        "train": 4,
        "val": 0,
        "test": 0,
    }
    run_id = insert_run(app, files=files, dataset=dataset)
    guesses = {photos["beer"][0]: "beer", photos["beer"][1]: "wings", photos["wings"][0]: "wings"}
    guesses[photos["wings"][1]] = "beer"
    with app.app_context():
        for photo_id, label in guesses.items():
            probabilities = {"beer": 0.8, "wings": 0.2} if label == "beer" else {"beer": 0.3, "wings": 0.7}
            db.session.add(
                Prediction(
                    run_id=run_id, photo_id=photo_id, label=label, confidence=0.8, probabilities=probabilities
                )
            )
        db.session.commit()
    return run_id, models_dir(app) / str(run_id), photos


def gallery(client, run_id: int, true_label: str, label: str) -> list[int]:
    """The photo ids a confusion-matrix cell's link shows (true class, predicted class)."""
    query = urlencode({"true_label": true_label, "label": label, "per_page": 200})
    response = client.get(f"/api/v1/runs/{run_id}/predictions?{query}")
    assert response.status_code == 200
    return sorted(p["photo_id"] for p in response.get_json()["predictions"])


def test_rename_carries_into_run_metrics_predictions_and_files(app, client):
    run_id, folder, photos = run_with_predictions(app, client)
    beer = classes(client)["beer"]
    assert client.patch(f"/api/v1/classes/{beer['id']}", json={"name": "lager"}).status_code == 200

    run = client.get(f"/api/v1/runs/{run_id}").get_json()
    assert run["metrics"]["labels"] == ["lager", "wings"]
    assert set(run["metrics"]["per_class"]) == {"lager", "wings"}
    assert run["metrics"]["per_class"]["lager"] == {"precision": 1.0, "recall": 0.5}
    assert run["metrics"]["confusion_matrix"] == [[1, 1], [0, 2]]
    assert run["dataset"]["labels"] == ["lager", "wings"] and set(run["dataset"]["per_class"]) == {
        "lager",
        "wings",
    }
    # every confusion-matrix link opens the photos of its cell
    labels = run["metrics"]["labels"]
    true_ids = {"lager": photos["beer"], "wings": photos["wings"]}
    assert [gallery(client, run_id, t, p) for t in labels for p in labels] == [
        [true_ids["lager"][0]],
        [true_ids["lager"][1]],
        [true_ids["wings"][1]],
        [true_ids["wings"][0]],
    ]
    predictions = client.get(f"/api/v1/runs/{run_id}/predictions").get_json()["predictions"]
    assert all(set(p["probabilities"]) == {"lager", "wings"} for p in predictions)
    # the files on disk, rewritten whole (no temporary file left), other fields kept
    assert json.loads((folder / "labels.json").read_text()) == ["lager", "wings"]
    info = json.loads((folder / "model_info.json").read_text())
    assert info["labels"] == ["lager", "wings"] and info["feature_key"] == "f-32"
    assert info["metrics"]["labels"] == ["lager", "wings"] and set(info["metrics"]["per_class"]) == {
        "lager",
        "wings",
    }
    assert sorted(p.name for p in folder.iterdir()) == sorted(fake_files_names())
    download = client.get(f"/runs/{run_id}/download/labels.json")
    body = download.get_data()
    download.close()
    assert json.loads(body) == ["lager", "wings"]


def fake_files_names() -> list[str]:
    from tests.test_api_runs import fake_files

    return list(fake_files())


def test_renames_in_a_row_and_back(app, client):
    run_id, folder, photos = run_with_predictions(app, client)
    beer, wings = classes(client)["beer"], classes(client)["wings"]
    for cls, name in [(beer, "lager"), (wings, "chicken"), (beer, "stout"), (beer, "beer")]:
        assert client.patch(f"/api/v1/classes/{cls['id']}", json={"name": name}).status_code == 200
    run = client.get(f"/api/v1/runs/{run_id}").get_json()
    assert run["metrics"]["labels"] == ["beer", "chicken"]
    assert json.loads((folder / "labels.json").read_text()) == ["beer", "chicken"]
    assert json.loads((folder / "model_info.json").read_text())["labels"] == ["beer", "chicken"]
    assert gallery(client, run_id, "chicken", "chicken") == [photos["wings"][0]]


def test_rename_of_a_run_without_files_and_of_an_untrained_class(app, client):
    run_id, folder, _photos = run_with_predictions(app, client)
    assert client.delete(f"/api/v1/runs/{run_id}/files").status_code == 200
    pizza = client.post("/api/v1/classes", json={"name": "pizza"}).get_json()
    assert client.patch(f"/api/v1/classes/{pizza['id']}", json={"name": "calzone"}).status_code == 200
    beer = classes(client)["beer"]
    assert client.patch(f"/api/v1/classes/{beer['id']}", json={"name": "lager"}).status_code == 200
    run = client.get(f"/api/v1/runs/{run_id}").get_json()
    assert run["metrics"]["labels"] == ["lager", "wings"]
    assert not folder.exists() or not any(folder.iterdir())


def test_a_damaged_model_info_does_not_block_a_rename(app, client):
    run_id, folder, _photos = run_with_predictions(app, client)
    (folder / "model_info.json").write_text("{ damaged")
    beer = classes(client)["beer"]
    assert client.patch(f"/api/v1/classes/{beer['id']}", json={"name": "lager"}).status_code == 200
    assert client.get(f"/api/v1/runs/{run_id}").get_json()["metrics"]["labels"] == ["lager", "wings"]
    assert json.loads((folder / "labels.json").read_text()) == ["lager", "wings"]
    assert (folder / "model_info.json").read_text() == "{ damaged"


def test_a_refused_rename_changes_no_run(app, client):
    run_id, folder, _photos = run_with_predictions(app, client)
    before = (client.get(f"/api/v1/runs/{run_id}").get_json(), (folder / "model_info.json").read_bytes())
    beer = classes(client)["beer"]
    assert_json_error(client.patch(f"/api/v1/classes/{beer['id']}", json={"name": "lager", "key": 0}), 400)
    assert_json_error(client.patch(f"/api/v1/classes/{beer['id']}", json={"name": "Wings"}), 409)
    after = (client.get(f"/api/v1/runs/{run_id}").get_json(), (folder / "model_info.json").read_bytes())
    assert after == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp")]


def test_rename_carries_into_runs_on_postgresql(pg_url, app_config):  # noqa: F811 (the fixture imported)
    from webapp import create_app
    from webapp.db import db

    app = create_app({**app_config, "DATABASE_URL": pg_url})
    try:
        test_rename_carries_into_run_metrics_predictions_and_files(app, token_client(app))
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
