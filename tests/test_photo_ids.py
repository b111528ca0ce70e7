"""GET /api/v1/photos/ids: the labeling view's walk, a bounded page at a time with a cursor."""

import pytest

from tests.test_predictions import insert_photo, insert_run, predict
from webapp.db import db


@pytest.fixture
def photos(app) -> list[int]:
    """Seven unlabeled photos, ids in upload order."""
    with app.app_context():
        ids = [insert_photo(f"p{n}", None, None, n) for n in range(1, 8)]
        db.session.commit()
    return ids


def ids_page(client, **args) -> dict:
    response = client.get("/api/v1/photos/ids", query_string=args)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def walk(client, **args) -> list[int]:
    """Every id, following `next` page by page."""
    seen, after = [], None
    while True:
        body = ids_page(client, **args, **({"after": after} if after else {}))
        seen += body["ids"]
        after = body["next"]
        if after is None:
            return seen


def test_ids_come_a_bounded_page_at_a_time(client, photos):
    first = ids_page(client, limit=3)
    assert first["ids"] == photos[::-1][:3]
    assert first["total"] == 7 and first["limit"] == 3 and first["next"]
    assert walk(client, limit=3) == photos[::-1]
    assert walk(client, limit=3, order="oldest") == photos
    last = ids_page(client, limit=3, after=first["next"])
    assert last["ids"] == photos[::-1][3:6]
    # Without a limit: at most 1000 (the label page asks for more as it walks).
    assert ids_page(client)["limit"] == 1000 and ids_page(client)["next"] is None


def test_labeling_while_walking_skips_nobody(client, photos):
    first = ids_page(client, unlabeled=1, limit=3)
    for photo_id in first["ids"]:  # labeled, so they leave the "unlabeled" filter
        assert client.patch(f"/api/v1/photos/{photo_id}", json={"label": "beer"}).status_code == 200
    # An offset (page 2 of 3) would now skip three photos; the cursor goes on where the walk was.
    second = ids_page(client, unlabeled=1, limit=3, after=first["next"])
    assert second["ids"] == photos[::-1][3:6]
    assert second["total"] == 4


def test_the_uncertain_order_pages_through_confidences_and_unpredicted_photos(app, client, photos):
    with app.app_context():
        run = insert_run()
        for photo_id, confidence in zip(photos[:5], [0.9, 0.6, 0.6, 0.51, 0.75], strict=True):
            predict(run, photo_id, "beer", confidence)
        db.session.commit()
    expected = [photos[3], photos[1], photos[2], photos[4], photos[0], photos[5], photos[6]]
    listed = client.get("/api/v1/photos?order=uncertain").get_json()["photos"]
    assert [p["id"] for p in listed] == expected
    for limit in (1, 2, 3, 7):
        assert walk(client, order="uncertain", limit=limit) == expected


@pytest.mark.parametrize(
    "query, word",
    [
        ("limit=0", "limit"),
        ("limit=5001", "limit"),
        ("limit=ten", "limit"),
        ("after=abc", "after"),
        ("after=nan:3&order=uncertain", "after"),
        ("after=1.5:x", "after"),
    ],
)
def test_bad_ids_paging_is_400(app, client, photos, query, word):
    with app.app_context():
        insert_run()
        db.session.commit()
    response = client.get(f"/api/v1/photos/ids?{query}")
    assert response.status_code == 400 and word in response.get_json()["error"]
