"""One request parser (webapp/web/requests.py) on every endpoint that takes a JSON body, and query arguments.

Each bad body gets 400 JSON in plain words (naming the field where there is one) and changes nothing: the
whole visible state (classes, photos, trash, runs) is compared before and after.
"""

import io
import json

import pytest

from tests.accounts import token_client
from tests.test_api_classes import assert_json_error
from tests.test_api_runs import fake_files, insert_run, labeled
from tests.test_scale_out import pg_url  # noqa: F401 (a fixture)

STATE_URLS = (
    "/api/v1/classes",
    "/api/v1/photos?per_page=200",
    "/api/v1/photos?trash=1&per_page=200",
    "/api/v1/runs",
)
SURROGATE = '"\\ud800"'  # JSON text: a backslash escape of a lone surrogate
NUL = '"a\\u0000b"'


class Endpoint:
    """A JSON endpoint: a valid body, a string field (if any) and a wrongly typed body naming its field."""

    def __init__(self, method, url, valid, text_field, wrong, wrong_field):
        self.method, self.url, self.valid = method, url, valid
        self.text_field, self.wrong, self.wrong_field = text_field, wrong, wrong_field

    def send(self, client, world, data, content_type="application/json"):
        url = self.url.format(**world)
        return client.open(url, method=self.method, data=data, content_type=content_type)

    def valid_body(self, world) -> dict:
        return json.loads(json.dumps(self.valid).replace('"<photo>"', str(world["photo"])))


ENDPOINTS = {
    "POST classes": Endpoint("POST", "/api/v1/classes", {"name": "pizza"}, "name", {"name": 5}, "name"),
    "PATCH class": Endpoint(
        "PATCH", "/api/v1/classes/{beer}", {"name": "lager"}, "name", {"key": True}, "key"
    ),
    "PATCH photo": Endpoint(
        "PATCH", "/api/v1/photos/{photo}", {"label": "wings"}, "label", {"split": 3}, "split"
    ),
    "POST photos/bulk": Endpoint(
        "POST",
        "/api/v1/photos/bulk",
        {"ids": ["<photo>"], "label": "wings"},
        "label",
        {"ids": [True], "label": "wings"},
        "ids",
    ),
    "POST runs": Endpoint("POST", "/api/v1/runs", {"epochs": 2}, None, {"epochs": "5"}, "epochs"),
    "POST runs/pin": Endpoint(
        "POST", "/api/v1/runs/{run}/pin", {"pinned": True}, None, {"pinned": "no"}, "pinned"
    ),
}
# Bodies no endpoint may take, whatever its fields.
BAD_BODIES = {
    "deeply nested array": b"[" * 100_000,
    "deeply nested in a field": b'{"name": ' + b"[" * 100_000,
    "deeply nested closed": b"[" * 5_000 + b"]" * 5_000,
    "malformed": b"{",
    "truncated": b'{"name": "x"',
    "trailing garbage": b'{"name": "x"} x',
    "array": b"[]",
    "number": b"5",
    "string": b'"true"',
    "null": b"null",
    "boolean": b"true",
    "NaN": b'{"epochs": NaN}',
    "not UTF-8": b'{"name": "\xff\xfe"}',
    "UTF-8 encoded surrogate": b'{"name": "\xed\xa0\x80"}',
    "surrogate field name": ("{" + SURROGATE + ": 1}").encode(),
    "NUL field name": ("{" + NUL + ": 1}").encode(),
}


@pytest.fixture
def world(app, client) -> dict:
    """A trainable dataset (so a wrongly accepted Train starts a run), a succeeded unpinned run with files."""
    ids = labeled(client, {"beer": 3, "wings": 3})
    run_id = insert_run(app, files=fake_files())
    beer = next(c for c in client.get("/api/v1/classes").get_json() if c["name"] == "beer")
    return {"photo": ids["beer"][0], "run": run_id, "beer": beer["id"]}


def state(client) -> list:
    """Everything a bad request could have changed, as the API shows it."""
    return [client.get(url).get_json() for url in STATE_URLS]


def assert_refused(response, *words: str) -> str:
    """400 JSON naming each of words; returns the message."""
    message = assert_json_error(response, 400)["error"]
    for word in words:
        assert word in message, message
    return message


@pytest.mark.parametrize("name", ENDPOINTS)
def test_the_valid_body_changes_something(client, world, name):
    # The control for every test below: the state comparison sees what a body accepted would change.
    endpoint = ENDPOINTS[name]
    before = state(client)
    response = endpoint.send(client, world, json.dumps(endpoint.valid_body(world)))
    assert response.status_code < 300, response.get_json()
    assert state(client) != before


@pytest.mark.parametrize("name", ENDPOINTS)
def test_bad_bodies_are_refused(client, world, name):
    before = state(client)
    for what, body in BAD_BODIES.items():
        response = ENDPOINTS[name].send(client, world, body)
        assert response.status_code == 400, what
        assert_refused(response)
        assert state(client) == before, what


@pytest.mark.parametrize("name", ENDPOINTS)
def test_unknown_field_is_refused_by_name(client, world, name):
    endpoint = ENDPOINTS[name]
    before = state(client)
    body = {**endpoint.valid_body(world), "surprise": 1}
    assert_refused(endpoint.send(client, world, json.dumps(body)), "surprise")
    assert state(client) == before


@pytest.mark.parametrize("name", ENDPOINTS)
def test_wrongly_typed_field_is_refused_by_name(client, world, name):
    endpoint = ENDPOINTS[name]
    before = state(client)
    assert_refused(endpoint.send(client, world, json.dumps(endpoint.wrong)), endpoint.wrong_field)
    assert state(client) == before


@pytest.mark.parametrize("text", [SURROGATE, NUL], ids=["lone surrogate", "NUL"])
@pytest.mark.parametrize("name", [n for n, e in ENDPOINTS.items() if e.text_field])
def test_unstorable_text_is_refused_by_name(client, world, name, text):
    endpoint = ENDPOINTS[name]
    before = state(client)
    raw = json.dumps({**endpoint.valid_body(world), endpoint.text_field: "@"}).replace('"@"', text)
    assert_refused(endpoint.send(client, world, raw), endpoint.text_field)
    assert state(client) == before


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", None])
@pytest.mark.parametrize("name", ENDPOINTS)
def test_a_body_that_is_not_json_is_refused(client, world, name, content_type):
    # curl -d '{' sends a form content type: it must not be read as "no body, all defaults".
    endpoint = ENDPOINTS[name]
    before = state(client)
    assert_refused(endpoint.send(client, world, json.dumps(endpoint.valid_body(world)), content_type), "JSON")
    assert_refused(endpoint.send(client, world, "{", content_type), "JSON")
    assert state(client) == before


def test_broken_json_does_not_start_a_run(client, world):
    for body, content_type in [("{", "application/x-www-form-urlencoded"), ("{", "application/json")]:
        assert_refused(client.post("/api/v1/runs", data=body, content_type=content_type))
    assert client.get("/api/v1/runs").get_json()[0]["id"] == world["run"]  # still the only run


@pytest.mark.parametrize(
    "body", [b"{", b'{"pinned": "no"}', b'{"pinned": "false"}', b'{"pinned": 0}', b"1", b"[]"]
)
def test_pin_refuses_anything_but_a_boolean(client, world, body):
    response = client.post(f"/api/v1/runs/{world['run']}/pin", data=body, content_type="application/json")
    assert_refused(response)
    run = client.get(f"/api/v1/runs/{world['run']}").get_json()
    assert run["pinned"] is False


def test_pin_and_unpin_with_booleans(client, world):
    url = f"/api/v1/runs/{world['run']}/pin"
    assert client.post(url, json={"pinned": True}).get_json()["pinned"] is True
    assert client.post(url, json={"pinned": False}).get_json()["pinned"] is False
    assert client.post(url).get_json()["pinned"] is True  # no body: pin, as the page's button does


def test_bulk_with_a_boolean_id_leaves_photo_1_alone(client, world):
    photo = client.get("/api/v1/photos/1").get_json()
    assert photo["label"] == "beer"
    assert_refused(client.post("/api/v1/photos/bulk", json={"ids": [True], "label": "wings"}), "ids")
    assert_refused(client.post("/api/v1/photos/bulk", json={"ids": [1.0], "label": "wings"}), "ids")
    assert client.get("/api/v1/photos/1").get_json() == photo


def test_a_huge_json_body_is_refused_before_reading(client, world):
    body = json.dumps({"ids": [world["photo"]] * 400_000, "label": "wings"})
    assert len(body) > 1024 * 1024
    response = client.post("/api/v1/photos/bulk", data=body, content_type="application/json")
    assert_json_error(response, 413)


def test_an_empty_body_is_refused_where_fields_are_needed(client, world):
    for method, url in [("POST", "/api/v1/classes"), ("PATCH", f"/api/v1/photos/{world['photo']}")]:
        assert_refused(client.open(url, method=method, data=b"", content_type="application/json"))
        assert_refused(client.open(url, method=method))


# ---------------------------------------------------------------- query arguments


@pytest.mark.parametrize(
    "query,name",
    [
        ("page=x", "page"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=1e3", "page"),
        ("page=" + "9" * 5000, "page"),
        ("per_page=abc", "per_page"),
        ("per_page=0", "per_page"),
        ("per_page=100000", "per_page"),
        ("per_page=1.5", "per_page"),
        ("unlabeled=yes", "unlabeled"),
        ("unlabeled=2", "unlabeled"),
        ("trash=maybe", "trash"),
    ],
)
def test_photo_list_refuses_garbage_arguments_by_name(client, world, query, name):
    assert_refused(client.get(f"/api/v1/photos?{query}"), name)


def test_photo_ids_refuse_garbage_flags(client, world):
    assert_refused(client.get("/api/v1/photos/ids?unlabeled=yes"), "unlabeled")
    assert_refused(client.get("/api/v1/photos/ids?trash=x"), "trash")


@pytest.mark.parametrize(
    "query", ["unlabeled=1", "unlabeled=true", "unlabeled=0", "unlabeled=FALSE", "unlabeled="]
)
def test_flags_take_1_0_true_false(client, world, query):
    response = client.get(f"/api/v1/photos?{query}")
    assert response.status_code == 200
    expected = 0 if query.split("=")[1].lower() in ("1", "true") else 6
    assert response.get_json()["total"] == expected


def test_delete_class_refuses_a_garbage_force(client, world):
    pizza = client.post("/api/v1/classes", json={"name": "pizza"}).get_json()
    for force in ("yes", "2", "please"):
        assert_refused(client.delete(f"/api/v1/classes/{pizza['id']}?force={force}"), "force")
        assert_refused(client.delete(f"/api/v1/classes/{world['beer']}?force={force}"), "force")
    names = {c["name"] for c in client.get("/api/v1/classes").get_json()}
    assert names == {"beer", "wings", "pizza"}
    assert client.delete(f"/api/v1/classes/{pizza['id']}?force=0").status_code == 200


@pytest.mark.parametrize(
    "query,name",
    [
        ("wrong=perhaps", "wrong"),
        ("unlabeled=x", "unlabeled"),
        ("page=abc", "page"),
        ("per_page=0", "per_page"),
    ],
)
def test_predictions_refuse_garbage_arguments_by_name(client, world, query, name):
    assert_refused(client.get(f"/api/v1/runs/{world['run']}/predictions?{query}"), name)
    assert client.get(f"/api/v1/runs/{world['run']}/predictions?wrong=1&unlabeled=0").status_code == 200


# ---------------------------------------------------------------- the same on PostgreSQL


@pytest.fixture
def pg_client(pg_url, tmp_path):  # noqa: F811 (the fixture imported above)
    from webapp import create_app
    from webapp.db import db

    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": pg_url,
            "WTF_CSRF_ENABLED": False,
            "BACKBONE_WEIGHTS": "none",
            "IMAGE_SIZE": 32,
            "SECRET_KEY": "test",
        }
    )
    yield token_client(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("text", [SURROGATE, NUL], ids=["lone surrogate", "NUL"])
def test_unstorable_class_names_on_postgresql(pg_client, text):
    before = pg_client.get("/api/v1/classes").get_json()
    raw = '{"name": ' + text + "}"
    assert_refused(pg_client.post("/api/v1/classes", data=raw, content_type="application/json"), "name")
    url = f"/api/v1/classes/{before[0]['id']}"
    assert_refused(pg_client.patch(url, data=raw, content_type="application/json"), "name")
    assert pg_client.get("/api/v1/classes").get_json() == before


@pytest.mark.parametrize("name", ["label", "true_label", "sort", "split"])
def test_nul_in_prediction_filters_on_postgresql(pg_client, name):
    run_id = insert_run(pg_client.application)
    assert_refused(pg_client.get(f"/api/v1/runs/{run_id}/predictions?{name}=be%00er"), name)


def test_nul_in_an_upload_label_on_postgresql(pg_client, tmp_path):
    from tests.images import phone_jpeg

    form = {"files": [(io.BytesIO(phone_jpeg()), "a.jpg")], "label": "be\x00er"}
    response = pg_client.post("/api/v1/photos", data=form, content_type="multipart/form-data")
    assert_refused(response, "label")
    assert pg_client.get("/api/v1/photos").get_json()["total"] == 0
    photos = tmp_path / "instance" / "photos"
    assert not photos.exists() or not [p for p in photos.rglob("*") if p.is_file()]
