"""Deleting a class closes the gap in the shortcut keys; a deleted class can be restored with its labels."""

from tests.accounts import make_admin, token_client
from tests.test_api_classes import add_photos, assert_json_error, classes
from tests.test_scale_out import pg_url  # noqa: F401 (a fixture)


def delete(client, name: str) -> dict:
    """DELETE the class named name (forced); the reply's body."""
    response = client.delete(f"/api/v1/classes/{classes(client)[name]['id']}?force=1")
    assert response.status_code == 200, response.data[:300]
    return response.get_json()


def restore(client, restore_id: int) -> dict:
    """POST the restore of a deleted class; the reply's body."""
    response = client.post(f"/api/v1/classes/deleted/{restore_id}/restore")
    assert response.status_code == 201, response.data[:300]
    return response.get_json()


def labels(client, ids: list[int]) -> list[str | None]:
    return [client.get(f"/api/v1/photos/{i}").get_json()["label"] for i in ids]


def keys(client) -> dict[str, int | None]:
    return {name: c["key"] for name, c in classes(client).items()}


def test_delete_closes_the_gap_in_the_keys_and_restore_puts_everything_back(client):
    client.post("/api/v1/classes", json={"name": "pizza", "color": "#123456"})
    beer = add_photos(client, 3, label="beer")
    wings = add_photos(client, 2, label="wings", cls_index=1)
    before = {i: client.get(f"/api/v1/photos/{i}").get_json() for i in wings}
    color = classes(client)["wings"]["color"]
    assert keys(client) == {"beer": 1, "wings": 2, "pizza": 3}

    body = delete(client, "wings")
    assert body["unlabeled"] == 2 and body["keys"] == {"pizza": 2}
    assert keys(client) == {"beer": 1, "pizza": 2}
    assert labels(client, wings) == [None, None]
    listed = client.get("/api/v1/classes/deleted").get_json()
    expected = [(body["restore_id"], "wings", 2, 2)]
    assert [(d["id"], d["name"], d["photos"], d["key"]) for d in listed] == expected

    done = restore(client, body["restore_id"])
    assert (done["relabeled"], done["skipped"]) == (2, 0)
    assert (done["class"]["name"], done["class"]["count"], done["class"]["color"]) == ("wings", 2, color)
    assert keys(client) == {"beer": 1, "wings": 2, "pizza": 3}  # its old key, the others moved back
    assert labels(client, wings) == ["wings", "wings"] and labels(client, beer) == ["beer"] * 3
    after = {i: client.get(f"/api/v1/photos/{i}").get_json() for i in wings}
    for i in wings:  # the split is kept throughout
        assert after[i]["split"] == before[i]["split"]
    assert client.get("/api/v1/classes/deleted").get_json() == []
    assert_json_error(client.post(f"/api/v1/classes/deleted/{body['restore_id']}/restore"), 404)


def test_restore_leaves_photos_labeled_since_and_photos_gone(client):
    wings = add_photos(client, 4, label="wings", cls_index=1)
    body = delete(client, "wings")
    client.patch(f"/api/v1/photos/{wings[0]}", json={"label": "beer"})
    client.delete(f"/api/v1/photos/{wings[1]}")
    assert client.post("/api/v1/trash/empty").get_json()["removed"] == 1
    done = restore(client, body["restore_id"])
    assert (done["relabeled"], done["skipped"]) == (2, 2)
    assert labels(client, [wings[0], wings[2], wings[3]]) == ["beer", "wings", "wings"]


def test_restore_when_the_name_or_key_is_taken(client):
    add_photos(client, 1, label="wings", cls_index=1)
    body = delete(client, "wings")
    client.post("/api/v1/classes", json={"name": "Wings"})
    error = assert_json_error(client.post(f"/api/v1/classes/deleted/{body['restore_id']}/restore"), 409)
    assert "Wings" in error["error"]
    client.delete(f"/api/v1/classes/{classes(client)['Wings']['id']}")
    for k in range(3, 10):  # every key taken: the restored class gets none, nobody else's key moves
        client.post("/api/v1/classes", json={"name": f"c{k}", "key": k})
    client.post("/api/v1/classes", json={"name": "extra", "key": 2})
    before = keys(client)
    restored = restore(client, body["restore_id"])
    assert restored["class"]["key"] is None and restored["relabeled"] == 1
    assert {k: v for k, v in keys(client).items() if k != "wings"} == before


def test_classes_without_keys_keep_none_and_keys_follow_their_order(client):
    client.post("/api/v1/classes", json={"name": "pizza", "key": 7})
    client.post("/api/v1/classes", json={"name": "fries", "key": None})
    client.patch(f"/api/v1/classes/{classes(client)['fries']['id']}", json={"key": None})
    assert delete(client, "beer")["keys"] == {"wings": 1, "pizza": 2}
    assert keys(client) == {"wings": 1, "pizza": 2, "fries": None}


def test_only_the_newest_deleted_classes_are_kept(client):
    from webapp.services.class_deletes import KEEP_DELETED

    ids = []
    for i in range(KEEP_DELETED + 2):
        client.post("/api/v1/classes", json={"name": f"tmp{i}"})
        ids.append(delete(client, f"tmp{i}")["restore_id"])
    listed = [d["id"] for d in client.get("/api/v1/classes/deleted").get_json()]
    assert listed == ids[::-1][:KEEP_DELETED]
    assert_json_error(client.post(f"/api/v1/classes/deleted/{ids[0]}/restore"), 404)


def test_a_labeler_cannot_restore_but_sees_the_list(app, client):
    body = delete(client, "wings")
    labeler = token_client(app, make_admin(app, "lab", role="labeler"))
    assert [d["name"] for d in labeler.get("/api/v1/classes/deleted").get_json()] == ["wings"]
    assert_json_error(labeler.post(f"/api/v1/classes/deleted/{body['restore_id']}/restore"), 403)


def test_dataset_says_why_train_cannot_start(client):
    problems = client.get("/api/v1/dataset").get_json()["train_problems"]
    assert problems == ["Label photos of at least two classes before training"]
    add_photos(client, 5, label="beer")
    add_photos(client, 5, label="wings", cls_index=1)
    assert client.get("/api/v1/dataset").get_json()["train_problems"] == []


def test_delete_and_restore_on_postgresql(pg_url, app_config):  # noqa: F811 (the fixture imported)
    from webapp import create_app
    from webapp.db import db

    app = create_app({**app_config, "DATABASE_URL": pg_url})
    try:
        test_delete_closes_the_gap_in_the_keys_and_restore_puts_everything_back(token_client(app))
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
