"""Stable, stratified train/val/test splits: ~20 % val and ~20 % test per class, never moved by relabeling."""

import io
from collections import Counter

import pytest

from tests.images import class_photo
from webapp.services.splits import choose_split


def add_photos(client, n: int, cls_index: int = 0, start: int = 0) -> list[int]:
    """Upload n distinct unlabeled photos; their ids in upload order."""
    files = [(io.BytesIO(class_photo(cls_index, start + i, size=(40, 32))), f"p{i}.jpg") for i in range(n)]
    response = client.post("/api/v1/photos", data={"files": files}, content_type="multipart/form-data")
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["stored"] * n
    return [r["photo"]["id"] for r in results]


def label(client, photo_id: int, name: str | None) -> dict:
    """PATCH one photo's label; returns the photo."""
    response = client.patch(f"/api/v1/photos/{photo_id}", json={"label": name})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def split_of(client, photo_id: int) -> str | None:
    """The photo's split as the API reports it."""
    return client.get(f"/api/v1/photos/{photo_id}").get_json()["split"]


def splits(client, ids) -> Counter:
    """How many of these photos sit in each split."""
    return Counter(split_of(client, i) for i in ids)


def simulate(n: int) -> dict[str, int]:
    """Split counts after labeling n photos of one class one by one."""
    counts = {"train": 0, "val": 0, "test": 0}
    for _ in range(n):
        counts[choose_split(counts)] += 1
    return counts


# ---------------------------------------------------------------- the rule itself


def test_thirty_photos_give_six_six_eighteen():
    assert simulate(30) == {"train": 18, "val": 6, "test": 6}


@pytest.mark.parametrize("n", range(1, 61))
def test_val_and_test_track_twenty_percent(n):
    counts = simulate(n)
    assert sum(counts.values()) == n
    for held_out in ("val", "test"):
        assert abs(counts[held_out] - 0.2 * n) <= 1, counts
    if n >= 4:  # even a small class has one held-out photo of each
        assert counts["val"] >= 1 and counts["test"] >= 1
    assert counts["train"] >= counts["val"]


def test_three_photos_give_one_of_each_split():
    assert simulate(1) == {"train": 1, "val": 0, "test": 0}
    assert simulate(3) == {"train": 1, "val": 1, "test": 1}


# ---------------------------------------------------------------- through the API


def test_thirty_labeled_photos_split_six_six_eighteen(client):
    ids = add_photos(client, 30)
    for photo_id in ids:
        assert label(client, photo_id, "beer")["split"] in ("train", "val", "test")
    assert splits(client, ids) == Counter({"train": 18, "val": 6, "test": 6})
    dataset = {c["name"]: c for c in client.get("/api/v1/dataset").get_json()["classes"]}
    assert (dataset["beer"]["train"], dataset["beer"]["val"], dataset["beer"]["test"]) == (18, 6, 6)


def test_splits_are_stratified_per_class(client):
    beer = add_photos(client, 10)
    wings = add_photos(client, 10, cls_index=1)
    # interleaved labeling: each class is still split on its own
    for b, w in zip(beer, wings, strict=True):
        label(client, b, "beer")
        label(client, w, "wings")
    for ids in (beer, wings):
        assert splits(client, ids) == Counter({"train": 6, "val": 2, "test": 2})


def test_bulk_labeling_splits_like_one_by_one(client):
    ids = add_photos(client, 30)
    response = client.post("/api/v1/photos/bulk", json={"ids": ids, "label": "wings"})
    assert response.status_code == 200
    assert splits(client, ids) == Counter({"train": 18, "val": 6, "test": 6})


def test_upload_with_label_splits_too(client):
    files = [(io.BytesIO(class_photo(0, i, size=(40, 32))), f"p{i}.jpg") for i in range(10)]
    results = client.post(
        "/api/v1/photos", data={"files": files, "label": "beer"}, content_type="multipart/form-data"
    ).get_json()["results"]
    assert Counter(r["photo"]["split"] for r in results) == Counter({"train": 6, "val": 2, "test": 2})


def test_unlabeled_photo_has_no_split(client):
    photo_id = add_photos(client, 1)[0]
    assert split_of(client, photo_id) is None


def test_changing_label_keeps_the_split(client):
    ids = add_photos(client, 5)
    for photo_id in ids:
        label(client, photo_id, "beer")
    before = {i: split_of(client, i) for i in ids}
    held_out = next(i for i in ids if before[i] in ("val", "test"))
    assert label(client, held_out, "wings")["split"] == before[held_out]
    assert split_of(client, held_out) == before[held_out]


def test_unlabel_and_relabel_keeps_the_split(client):
    ids = add_photos(client, 4)
    for photo_id in ids:
        label(client, photo_id, "beer")
    held_out = next(i for i in ids if split_of(client, i) == "test")
    label(client, held_out, None)
    label(client, held_out, "beer")
    assert split_of(client, held_out) == "test"


def test_other_photos_never_move(client):
    ids = add_photos(client, 12)
    for photo_id in ids[:6]:
        label(client, photo_id, "beer")
    before = {i: split_of(client, i) for i in ids[:6]}
    for photo_id in ids[6:]:
        label(client, photo_id, "beer")
    client.delete(f"/api/v1/photos/{ids[0]}")
    client.patch(f"/api/v1/photos/{ids[1]}", json={"label": "wings"})
    assert {i: split_of(client, i) for i in ids[:6]} == before


def test_patch_split_moves_the_photo(client):
    photo_id = add_photos(client, 1)[0]
    assert label(client, photo_id, "beer")["split"] == "train"
    response = client.patch(f"/api/v1/photos/{photo_id}", json={"split": "test"})
    assert response.status_code == 200 and response.get_json()["split"] == "test"
    assert split_of(client, photo_id) == "test"
    # relabeling afterwards keeps the split the user chose
    label(client, photo_id, "wings")
    assert split_of(client, photo_id) == "test"


def test_label_and_split_in_one_patch(client):
    photo_id = add_photos(client, 1)[0]
    body = client.patch(f"/api/v1/photos/{photo_id}", json={"label": "beer", "split": "val"}).get_json()
    assert (body["label"], body["split"]) == ("beer", "val")


def test_trashed_photos_do_not_count_for_new_splits(client):
    ids = add_photos(client, 4)
    for photo_id in ids[:3]:
        label(client, photo_id, "beer")
    val_photo = next(i for i in ids[:3] if split_of(client, i) == "val")
    client.delete(f"/api/v1/photos/{val_photo}")
    # two photos left in the class, so the third labeled one (the 4th upload) is the class's first val photo
    assert label(client, ids[3], "beer")["split"] == "val"
