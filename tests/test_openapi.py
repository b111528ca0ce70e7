"""GET /api/v1/openapi.json: an OpenAPI 3.1 document that matches the routes, the parsers and the replies."""

import inspect
import io
import re
import zipfile

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator

from tests.accounts import make_admin, token_client
from tests.images import class_photo, phone_jpeg
from webapp.db import db
from webapp.db.models import Prediction, Suggestion, TrainingRun, utcnow
from webapp.params import BACKBONES, TRAINABLE_CHOICES, TrainParams
from webapp.web import MAX_ID, api_accounts, api_classes, api_photos, api_runs, api_suggestions

API = "/api/v1/"
BODY_SPECS = {
    ("/api/v1/classes", "post"): api_classes.CLASS_FIELDS,
    ("/api/v1/classes/{class_id}", "patch"): api_classes.CLASS_FIELDS,
    ("/api/v1/photos/{photo_id}", "patch"): api_photos.PHOTO_FIELDS,
    ("/api/v1/photos/bulk", "post"): api_photos.BULK_FIELDS,
    ("/api/v1/runs", "post"): api_runs.RUN_FIELDS,
    ("/api/v1/runs/{run_id}/pin", "post"): api_runs.PIN_FIELDS,
    ("/api/v1/runs/{run_id}/tflite", "post"): {},
    ("/api/v1/suggestions/accept", "post"): api_suggestions.ACCEPT_FIELDS,
    ("/api/v1/suggestions/undo", "post"): api_suggestions.UNDO_FIELDS,
    ("/api/v1/users", "post"): api_accounts.USER_FIELDS,
    ("/api/v1/tokens", "post"): api_accounts.TOKEN_FIELDS,
}


@pytest.fixture
def doc(client):
    """The served document."""
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def api_routes(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every /api/v1 rule in the url_map (HEAD and OPTIONS are Flask's own)."""
    return {
        (re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def operations(doc):
    """(path, method, operation) of every documented operation."""
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def check_reply(doc, response, path: str, method: str) -> None:
    """The reply's status is documented for the operation and its JSON body matches the documented schema."""
    replies = doc["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in replies, f"{method.upper()} {path}: {status} is not documented ({response.get_json()})"
    reply = replies[status]
    if "$ref" in reply:
        reply = doc["components"]["responses"][reply["$ref"].rsplit("/", 1)[1]]
    schema = {**reply["content"]["application/json"]["schema"], "components": doc["components"]}
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(response.get_json())]
    assert errors == [], f"{method.upper()} {path} -> {status}: {errors[:5]}"


# ---------------------------------------------------------------- the document itself


def test_the_document_covers_exactly_the_api_routes(app, doc):
    documented = {(path, method) for path, method, _op in operations(doc)}
    assert documented == api_routes(app)  # no route missing, none invented
    assert len(documented) == 44 and len(doc["paths"]) == 35


def test_the_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(doc).validate()


def test_the_document_needs_a_sign_in_like_every_api_route(anon_client):
    response = anon_client.get("/api/v1/openapi.json")
    assert response.status_code == 401 and "Sign in" in response.get_json()["error"]


def test_every_operation_takes_the_bearer_token_and_documents_its_errors(doc):
    assert doc["components"]["securitySchemes"]["bearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token; no CSRF token needed",
    }
    assert {"bearerToken": []} in doc["security"]
    for path, method, op in operations(doc):
        replies = op["responses"]
        assert "401" in replies, (method, path)
        assert any(code.startswith("2") for code in replies), (method, path)
        if "{" in path:
            assert "404" in replies, (method, path)
        if method != "get":
            assert {"503", "507"} <= set(replies), (method, path)
    busy = doc["components"]["responses"]["Error503"]
    assert "Retry-After" in busy["headers"]
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]


def test_json_bodies_are_the_field_specs_the_views_parse_with(app, doc):
    for (path, method), spec in BODY_SPECS.items():
        schema = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        assert schema["additionalProperties"] is False, path
        assert set(schema["properties"]) == set(spec), path
        for name, field in spec.items():
            kinds = schema["properties"][name]["type"]
            assert set([kinds] if isinstance(kinds, str) else kinds) <= set(field.kinds), (path, name)
    # Every view that parses a JSON body is listed above, so none can go undocumented.
    parsing = {
        endpoint
        for endpoint, view in app.view_functions.items()
        if "json_body(" in inspect.getsource(inspect.unwrap(view))
    }
    endpoint_of = {endpoint.replace(".", "_"): endpoint for endpoint in app.view_functions}
    documented = {
        endpoint_of[op["operationId"]]
        for _path, _method, op in operations(doc)
        if "application/json" in op.get("requestBody", {}).get("content", {})
    }
    assert parsing == documented
    assert len(parsing) == len(BODY_SPECS)


def test_uploads_are_documented_as_multipart(doc):
    upload = doc["paths"]["/api/v1/photos"]["post"]
    files = upload["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["files"]
    assert files["items"] == {"type": "string", "format": "binary"}
    assert set(upload["responses"]) >= {"200", "202", "413", "503", "507"}
    predict = doc["paths"]["/api/v1/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert predict["schema"]["required"] == ["file"]


@pytest.mark.parametrize("name", ["epochs", "batch_size", "trainable_layers"])
def test_documented_training_ranges_are_train_params_ranges(doc, name):
    body = doc["paths"]["/api/v1/runs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    low, high = body["properties"][name]["minimum"], body["properties"][name]["maximum"]
    backbone = max(BACKBONES, key=lambda b: TRAINABLE_CHOICES[b][-1]) if name == "trainable_layers" else None
    TrainParams(**{name: low})
    TrainParams(**{name: high, "backbone": backbone or BACKBONES[0]})
    for outside in (low - 1, high + 1):
        for each in BACKBONES:
            with pytest.raises(ValueError):
                TrainParams(**{name: outside, "backbone": each})


def test_documented_backbones_are_the_backbones(doc):
    body = doc["paths"]["/api/v1/runs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["backbone"]["enum"] == list(BACKBONES)


def test_documented_learning_rate_range_is_train_params_range(doc):
    body = doc["paths"]["/api/v1/runs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    rate = body["properties"]["learning_rate"]
    TrainParams(learning_rate=rate["maximum"])
    for outside in (rate["exclusiveMinimum"], rate["maximum"] * 1.000001):
        with pytest.raises(ValueError):
            TrainParams(learning_rate=outside)


# ---------------------------------------------------------------- the document against the running app


def add_run(app) -> int:
    """A finished run with a prediction for photo 1 (written directly, as a worker would)."""
    with app.app_context():
        run = TrainingRun(
            status="succeeded",
            params={"epochs": 1, "batch_size": 4, "learning_rate": 1e-4, "trainable_layers": 4},
            dataset={"labels": ["beer", "wings"], "train": 1, "val": 0, "test": 0},
            metrics={"accuracy": 1.0, "per_class": {}, "confusion_matrix": [[1, 0], [0, 0]], "labels": []},
            progress={"stage": "done", "epoch": 1, "history": [{"loss": 0.5}]},
            started_at=utcnow(),
            finished_at=utcnow(),
        )
        db.session.add(run)
        db.session.flush()
        probabilities = {"beer": 0.9, "wings": 0.1}
        db.session.add(
            Prediction(run_id=run.id, photo_id=1, label="beer", confidence=0.9, probabilities=probabilities)
        )
        db.session.commit()
        return run.id


def query_values(param: dict) -> tuple[list[str], list[str]]:
    """(values the document allows, values it does not) for a query parameter with an enum or a range."""
    schema = param["schema"]
    if "enum" in schema:
        return schema["enum"], ["nope"]
    if "anyOf" in schema:
        low, high = schema["anyOf"][0]["minimum"], schema["anyOf"][0]["maximum"]
        return ["", str(low), str(high)], [str(low - 1), str(high + 1), "x"]
    return [], []


def test_documented_query_enums_and_ranges_are_what_the_api_accepts(app, client, doc):
    client.post("/api/v1/photos", data={"files": [(io.BytesIO(phone_jpeg()), "a.jpg")]})
    run_id = add_run(app)
    checked = 0
    for path, method, op in operations(doc):
        if method != "get":
            continue
        url = path.replace("{run_id}", str(run_id))
        for param in [p for p in op["parameters"] if p["in"] == "query"]:
            good, bad = query_values(param)
            for value in good:
                response = client.get(url, query_string={param["name"]: value})
                assert response.status_code == 200, (url, param["name"], value, response.get_json())
                check_reply(doc, response, path, method)
            for value in bad:
                response = client.get(url, query_string={param["name"]: value})
                assert response.status_code == 400, (url, param["name"], value)
                assert param["name"] in response.get_json()["error"]
            checked += len(good) + len(bad)
    assert checked > 60


def test_labelers_get_403_exactly_where_the_document_says(app, doc):
    labeler = token_client(app, make_admin(app, "lee", "labeler-password", role="labeler"))
    for path, method, op in operations(doc):
        url = re.sub(r"\{\w+\}", "999999", path)
        body = op.get("requestBody", {}).get("content", {})
        response = labeler.open(url, method=method.upper(), json={} if "application/json" in body else None)
        assert (response.status_code == 403) == ("403" in op["responses"]), (
            method,
            url,
            response.status_code,
        )


def photo_zip(count: int) -> bytes:
    """A zip of count photos."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for i in range(count):
            archive.writestr(f"zip_{i}.jpg", class_photo(i % 2, i))
    return buf.getvalue()


def test_replies_match_the_documented_schemas(app, client, doc):
    def call(method: str, path: str, url: str | None = None, **kw):
        response = client.open(url or path, method=method.upper(), **kw)
        check_reply(doc, response, path, method)
        return response

    files = [(io.BytesIO(class_photo(i % 2, i)), f"p{i}.jpg") for i in range(3)] + [
        (io.BytesIO(b"no"), "x.jpg")
    ]
    stored = call("post", "/api/v1/photos", data={"files": files}).get_json()["results"]
    assert [r["status"] for r in stored] == ["stored"] * 3 + ["rejected"]
    app.config["ZIP_SYNC_MEMBERS"] = 1  # a zip of more photos is imported in the background (202)
    queued = call("post", "/api/v1/photos", data={"files": [(io.BytesIO(photo_zip(2)), "z.zip")]})
    assert queued.status_code == 202
    call("get", "/api/v1/imports/{import_id}", queued.get_json()["import"]["url"])
    run_id = add_run(app)
    with app.app_context():  # a suggestion in the photo replies (the worker's job writes these)
        db.session.add(Suggestion(photo_id=2, label="wings", confidence=0.8))
        db.session.commit()
    photo = "/api/v1/photos/{photo_id}"
    for method, path, url, kw in [
        ("get", "/api/v1/photos", "/api/v1/photos?order=uncertain", {}),
        ("get", "/api/v1/photos", "/api/v1/photos?order=confident", {}),
        ("get", "/api/v1/suggestions", None, {}),
        ("post", "/api/v1/suggestions/accept", None, {"json": {"min_confidence": 0.5}}),
        ("post", "/api/v1/suggestions/undo", None, {"json": {"items": [{"id": 1, "label": "beer"}]}}),
        ("get", "/api/v1/photos/ids", "/api/v1/photos/ids?limit=2", {}),
        ("get", photo, "/api/v1/photos/1", {}),
        ("patch", photo, "/api/v1/photos/1", {"json": {"label": "beer", "split": "val"}}),
        ("patch", photo, "/api/v1/photos/2", {"json": {"label": "nope"}}),
        ("delete", photo, "/api/v1/photos/3", {}),
        ("post", "/api/v1/photos/{photo_id}/restore", "/api/v1/photos/3/restore", {}),
        ("post", "/api/v1/photos/bulk", None, {"json": {"ids": [2, 3], "label": "wings"}}),
        ("post", "/api/v1/trash/empty", None, {}),
        ("get", "/api/v1/classes", None, {}),
        ("post", "/api/v1/classes", None, {"json": {"name": "pizza", "key": ""}}),
        ("post", "/api/v1/classes", None, {"json": {"name": "pizza"}}),
        (
            "patch",
            "/api/v1/classes/{class_id}",
            "/api/v1/classes/3",
            {"json": {"color": "#aabbcc", "key": None}},
        ),
        ("delete", "/api/v1/classes/{class_id}", "/api/v1/classes/3", {}),
        ("delete", "/api/v1/classes/{class_id}", "/api/v1/classes/1", {}),
        ("get", "/api/v1/dataset", None, {}),
        ("get", "/api/v1/runs", None, {}),
        ("get", "/api/v1/runs/{run_id}", f"/api/v1/runs/{run_id}", {}),
        ("get", "/api/v1/runs/{run_id}/predictions", f"/api/v1/runs/{run_id}/predictions", {}),
        ("post", "/api/v1/runs/{run_id}/pin", f"/api/v1/runs/{run_id}/pin", {}),
        ("post", "/api/v1/runs/{run_id}/cancel", f"/api/v1/runs/{run_id}/cancel", {}),
        ("post", "/api/v1/runs", None, {"json": {"epochs": 2}}),
        ("get", "/api/v1/storage", None, {}),
        ("get", "/api/v1/csrf-token", None, {}),
        ("get", "/api/v1/me", None, {}),
        ("post", "/api/v1/users", None, {"json": {"name": "lee", "password": "labeler-password"}}),
        ("get", "/api/v1/users", None, {}),
        ("post", "/api/v1/tokens", None, {"json": {"label": "ci"}}),
        ("get", "/api/v1/tokens", None, {}),
        ("post", "/api/v1/pairings", None, {}),
        ("get", "/api/v1/openapi.json", None, {}),
    ]:
        call(method, path, url, **kw)


# ------------------------------------------------------------- what schemathesis found (each failed before)


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("PATCH", "/api/v1/photos/0"),
        ("DELETE", "/api/v1/photos/0"),
        ("DELETE", "/api/v1/photos/99999999999999999999"),
        ("PATCH", f"/api/v1/photos/{MAX_ID + 1}"),
        ("DELETE", "/api/v1/classes/0"),
    ],
)
def test_an_id_out_of_range_is_404_whatever_the_method(client, method, url):
    # It was 405 "method not allowed" for PATCH and DELETE: werkzeug had seen the GET rule of the same URL.
    response = client.open(url, method=method, json={})
    assert response.status_code == 404, response.get_json()


def test_ids_up_to_the_largest_reach_the_view(client):
    assert client.delete(f"/api/v1/photos/{MAX_ID}").get_json() == {"error": f"There is no photo {MAX_ID}"}
    assert client.patch("/api/v1/photos/007", json={}).get_json() == {"error": "There is no photo 7"}


def test_a_405_names_the_methods_the_url_takes(client):
    # RFC 9110: a 405 carries Allow. The JSON error reply used to drop werkzeug's header.
    response = client.open("/api/v1/classes", method="PUT")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS, POST"
    assert "not allowed" in response.get_json()["error"]


def test_an_admin_cannot_remove_themselves(app, client):
    # With a second admin the first could remove their own account mid-request, signing every script out.
    other = token_client(app, make_admin(app, "ada", "other-admin-password", role="admin"))
    me = client.get("/api/v1/me").get_json()
    response = client.delete(f"/api/v1/users/{me['id']}")
    assert response.status_code == 409 and "yourself" in response.get_json()["error"]
    assert client.get("/api/v1/me").status_code == 200
    assert other.delete(f"/api/v1/users/{me['id']}").status_code == 200
