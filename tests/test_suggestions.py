"""Instant suggestions through the API: the photo JSON, the orders, bulk accept and undo, the accept rate."""

import pytest

from tests.test_predictions import insert_photo
from tests.test_scale_out import pg_url  # noqa: F401 - the fixture
from webapp.db import db
from webapp.db.models import Suggestion


@pytest.fixture(params=["sqlite", "postgresql"])
def app_config(request, app_config):
    """Every test here on SQLite and on PostgreSQL (the orders' NULL handling and the upserts differ)."""
    if request.param == "postgresql":
        return {**app_config, "DATABASE_URL": request.getfixturevalue("pg_url")}
    return app_config


@pytest.fixture
def suggested(app) -> dict[str, int]:
    """Photos as the worker's suggestion job leaves them: three unlabeled with a guess, one labeled, one
    unlabeled that has no features (so no guess) yet."""
    with app.app_context():
        ids = {
            "sure_beer": insert_photo("a", None, None, 1),
            "sure_wings": insert_photo("b", None, None, 2),
            "unsure": insert_photo("c", None, None, 3),
            "labeled": insert_photo("d", "beer", "train", 4),
            "no_guess": insert_photo("e", None, None, 5),
        }
        for name, label, confidence in [
            ("sure_beer", "beer", 0.97),
            ("sure_wings", "wings", 0.92),
            ("unsure", "wings", 0.55),
            ("labeled", "wings", 0.7),  # the model disagrees with the person
        ]:
            db.session.add(Suggestion(photo_id=ids[name], label=label, confidence=confidence))
        db.session.commit()
    return ids


def photo(client, photo_id: int) -> dict:
    response = client.get(f"/api/v1/photos/{photo_id}")
    assert response.status_code == 200
    return response.get_json()


def summary(client) -> dict:
    response = client.get("/api/v1/suggestions")
    assert response.status_code == 200
    return response.get_json()


# DESIGN.md "HTTP API": the photo JSON's fields ("group" comes with the near-duplicate work).
DESIGN_PHOTO_FIELDS = {"id", "sha256", "filename", "width", "height", "label", "split", "thumbnail_url",
                       "display_url", "created_at", "suggestion"}  # fmt: skip


def test_the_photo_json_carries_the_suggestion(client, suggested):
    sure = photo(client, suggested["sure_beer"])
    assert set(sure) >= DESIGN_PHOTO_FIELDS
    assert sure["suggestion"] == {"label": "beer", "confidence": 0.97}
    assert sure["prediction"] is None  # a suggestion is not a run's prediction: no model, no prediction
    assert photo(client, suggested["no_guess"])["suggestion"] is None
    listed = client.get("/api/v1/photos?per_page=10").get_json()["photos"]
    assert {p["id"]: p["suggestion"] for p in listed}[suggested["unsure"]]["label"] == "wings"
    # A labeled photo keeps its label: the suggestion beside it only shows the disagreement.
    labeled = photo(client, suggested["labeled"])
    assert labeled["label"] == "beer" and labeled["suggestion"]["label"] == "wings"


def test_uncertain_and_confident_orders_follow_the_suggestions(client, suggested):
    s = suggested
    order = [s["unsure"], s["sure_wings"], s["sure_beer"], s["no_guess"]]
    uncertain = client.get("/api/v1/photos/ids?unlabeled=1&order=uncertain").get_json()["ids"]
    assert uncertain == order
    confident = client.get("/api/v1/photos/ids?unlabeled=1&order=confident").get_json()["ids"]
    assert confident == [s["sure_beer"], s["sure_wings"], s["unsure"], s["no_guess"]]
    for limit in (1, 2, 3):  # the cursor pages through equal and missing confidences alike
        walked, after = [], None
        while True:
            args = {
                "order": "confident",
                "unlabeled": 1,
                "limit": limit,
                **({"after": after} if after else {}),
            }
            body = client.get("/api/v1/photos/ids", query_string=args).get_json()
            walked += body["ids"]
            after = body["next"]
            if after is None:
                break
        assert walked == confident
    listed = client.get("/api/v1/photos?unlabeled=1&order=confident").get_json()["photos"]
    assert [p["id"] for p in listed] == confident


def test_bulk_accept_labels_only_unlabeled_photos_above_the_threshold_and_undo_takes_it_back(
    client, suggested
):
    s = suggested
    assert summary(client)["acceptable"]["0.9"] == 2 and summary(client)["unlabeled"] == 3
    response = client.post("/api/v1/suggestions/accept", json={"min_confidence": 0.9})
    assert response.status_code == 200
    body = response.get_json()
    assert body["accepted"] == 2
    assert sorted(body["items"], key=lambda i: i["id"]) == [
        {"id": s["sure_beer"], "label": "beer"},
        {"id": s["sure_wings"], "label": "wings"},
    ]
    assert photo(client, s["sure_beer"])["label"] == "beer"
    assert photo(client, s["sure_beer"])["split"] in ("train", "val", "test")
    assert photo(client, s["unsure"])["label"] is None  # below the threshold
    assert photo(client, s["labeled"])["label"] == "beer"  # a person's label is never replaced
    assert summary(client)["accepted"] == 2 and summary(client)["accept_rate"] == 1.0
    # Someone relabels one of them before the undo: that choice stays.
    client.patch(f"/api/v1/photos/{s['sure_wings']}", json={"label": "beer"})
    undone = client.post("/api/v1/suggestions/undo", json={"items": body["items"]})
    assert undone.status_code == 200 and undone.get_json() == {"undone": 1}
    assert photo(client, s["sure_beer"])["label"] is None
    assert photo(client, s["sure_wings"])["label"] == "beer"


def test_the_accept_rate_counts_what_people_did_with_the_suggestions(client, suggested):
    s = suggested
    assert summary(client)["accept_rate"] is None  # nobody has reviewed a suggestion yet
    client.patch(f"/api/v1/photos/{s['sure_beer']}", json={"label": "beer"})  # as suggested
    client.patch(f"/api/v1/photos/{s['unsure']}", json={"label": "beer"})  # the suggestion said wings
    client.patch(f"/api/v1/photos/{s['labeled']}", json={"label": "wings"})  # labeled before: no verdict
    first = summary(client)
    assert (first["accepted"], first["changed"], first["accept_rate"]) == (1, 1, 0.5)
    # Correcting an accepted suggestion later turns it into a change; unlabeling forgets the verdict.
    client.patch(f"/api/v1/photos/{s['sure_beer']}", json={"label": "wings"})
    client.patch(f"/api/v1/photos/{s['unsure']}", json={"label": None})
    second = summary(client)
    assert (second["accepted"], second["changed"]) == (0, 1)


@pytest.mark.parametrize(
    "path, body, word",
    [
        ("accept", {"min_confidence": 1.5}, "min_confidence"),
        ("accept", {"min_confidence": "high"}, "min_confidence"),
        ("accept", {"min_confidence": True}, "min_confidence"),
        ("undo", {"items": []}, "items"),
        ("undo", {"items": [{"id": "1", "label": "beer"}]}, "id"),
        ("undo", {"items": [{"id": False, "label": ""}]}, "id"),
        ("undo", {"items": [{"id": 2**64, "label": "beer"}]}, "id"),
        ("undo", {}, "items"),
    ],
)
def test_bad_input_is_refused_in_plain_words(client, suggested, path, body, word):
    response = client.post(f"/api/v1/suggestions/{path}", json=body)
    assert response.status_code == 400
    assert word in response.get_json()["error"]
    assert photo(client, suggested["sure_beer"])["label"] is None  # nothing changed


def test_a_new_label_queues_one_suggestion_round_however_many_labels_come(app, client, suggested):
    huey = app.extensions["huey"]
    before = huey.pending_count()
    for photo_id in list(suggested.values())[:3]:
        assert client.patch(f"/api/v1/photos/{photo_id}", json={"label": "beer"}).status_code == 200
    assert (
        client.post(
            "/api/v1/photos/bulk", json={"ids": [suggested["no_guess"]], "label": "wings"}
        ).status_code
        == 200
    )
    assert huey.pending_count() == before + 1


def test_a_renamed_class_renames_its_suggestions(client, suggested):
    classes = {c["name"]: c["id"] for c in client.get("/api/v1/classes").get_json()}
    client.patch(f"/api/v1/photos/{suggested['unsure']}", json={"label": "beer"})  # offered wings: a change
    assert client.patch(f"/api/v1/classes/{classes['wings']}", json={"name": "wine"}).status_code == 200
    assert photo(client, suggested["sure_wings"])["suggestion"]["label"] == "wine"
    client.patch(f"/api/v1/photos/{suggested['unsure']}", json={"label": "wine"})  # now as offered
    assert summary(client)["accepted"] == 1 and summary(client)["changed"] == 0
