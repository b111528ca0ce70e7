"""Near-duplicate groups through the API: bursts join one group, a group shares one split, backfill."""

import io
import itertools
from collections import Counter

from tests.scenes import scene_jpeg
from webapp.photostore import neardup
from webapp.services.groups import groups_to_join
from webapp.services.splits import choose_split_for


def upload(client, files: list[tuple[bytes, str]], label: str | None = None) -> list[dict]:
    """POST files; the per-file results."""
    data = {"files": [(io.BytesIO(b), name) for b, name in files]}
    if label:
        data["label"] = label
    response = client.post("/api/v1/photos", data=data, content_type="multipart/form-data")
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()["results"]


def photo(client, photo_id: int) -> dict:
    return client.get(f"/api/v1/photos/{photo_id}").get_json()


def burst(seed: int, size=(480, 360)) -> list[tuple[bytes, str]]:
    """A scene and four near-duplicates of it."""
    kinds = [None, "burst", "resized", "brightened", "cropped"]
    return [(scene_jpeg(seed, kind, size), f"s{seed}-{kind}.jpg") for kind in kinds]


def test_a_burst_lands_in_one_group_and_other_scenes_in_none(client):
    results = upload(client, [*burst(1), (scene_jpeg(2), "other.jpg"), (scene_jpeg(3), "third.jpg")])
    assert [r["status"] for r in results] == ["stored"] * 7
    ids = [r["photo"]["id"] for r in results]
    groups = [photo(client, i)["group"] for i in ids]
    assert groups[:5] == [ids[0]] * 5 and groups[5:] == [None, None]
    assert [r["near_duplicate_of"] for r in results] == [None] + [ids[0]] * 4 + [None, None]
    assert results[1]["note"] == f"near-duplicate of #{ids[0]}" and results[0]["note"] is None
    assert results[1]["photo"]["group"] == ids[0]


def test_shots_that_arrive_before_their_scene_are_merged_by_it(client):
    """A shot shifted one way and one shifted the other do not match; the scene, uploaded last, joins both."""
    files = [(scene_jpeg(107, kind), f"{kind}.jpg") for kind in ("shifted", "burst2", None)]
    ids = [r["photo"]["id"] for r in upload(client, files)]
    assert [photo(client, i)["group"] for i in ids] == [ids[0]] * 3


def test_a_photo_joins_the_group_it_matches_most_and_merges_only_groups_it_matches_well():
    ids = [(1, 1), (2, 1), (3, 1), (4, 1), (5, 5), (6, 5), (7, 5), (8, 5), (9, None)]
    assert groups_to_join({2, 6, 7}, ids) == [5]  # 2 of 4 beat 1 of 4
    assert groups_to_join({4, 9}, ids) == [9]  # all of a lone photo beats 1 of 4
    assert groups_to_join({1, 6}, ids) == [1]  # a tie: the older group
    assert sorted(groups_to_join({1, 2, 3, 6, 7, 8}, ids)) == [1, 5]  # 3 of 4 of each: one burst after all
    assert sorted(groups_to_join({1, 2, 3, 4, 6, 9}, ids)) == [1, 9]  # all of 1, all of 9, not 5


def test_look_alike_scenes_do_not_chain_into_one_group():
    """Different plates of wings from one angle: some pairs match, yet no group grows over a few photos."""
    from benchmarks.bench_neardup import ingest_groups, thumbnail
    from tools.scenes import wings

    prints = [neardup.query_prints(thumbnail(wings(i))) for i in range(60)]
    sizes = Counter(ingest_groups(prints)).most_common()
    matching = sum(neardup.prints_match(a, b) for a, b in itertools.combinations(prints, 2))
    assert matching >= 20, matching  # they do look alike: merging on any match would chain them
    assert sizes[0][1] <= 12 and len(sizes) >= 20, sizes  # merging on any match: one group of 49


def test_the_group_filter_lists_a_photos_near_duplicates(client):
    ids = [r["photo"]["id"] for r in upload(client, [*burst(4), (scene_jpeg(5), "x.jpg")])]
    listed = client.get(f"/api/v1/photos?group={ids[0]}").get_json()
    assert sorted(p["id"] for p in listed["photos"]) == sorted(ids[:5]) and listed["total"] == 5
    assert client.get("/api/v1/photos?group=x").status_code == 400


def test_a_group_shares_one_split_whoever_is_labeled_first(client):
    ids = [r["photo"]["id"] for r in upload(client, burst(6))]
    first = client.patch(f"/api/v1/photos/{ids[2]}", json={"label": "beer"}).get_json()["split"]
    for i in ids:
        client.patch(f"/api/v1/photos/{i}", json={"label": "beer"})
    assert {photo(client, i)["split"] for i in ids} == {first}


def test_moving_one_photo_moves_its_group(client):
    ids = [r["photo"]["id"] for r in upload(client, burst(7), label="wings")]
    other = upload(client, [(scene_jpeg(8), "other.jpg")], label="wings")[0]["photo"]
    assert len({photo(client, i)["split"] for i in ids}) == 1
    assert client.patch(f"/api/v1/photos/{ids[3]}", json={"split": "test"}).status_code == 200
    assert {photo(client, i)["split"] for i in ids} == {"test"}
    assert photo(client, other["id"])["split"] == other["split"]  # not of the group: stays


def test_labeled_uploads_keep_bursts_out_of_two_splits(client):
    """20 scenes of 3 shots each, labeled on upload: every scene sits in one split, and val/test get some."""
    # small photos: the request stays in memory (a spooled upload file is left for the garbage collector)
    files = [item for seed in range(20, 40) for item in burst(seed, size=(200, 150))[:3]]
    results = upload(client, files, label="beer")
    by_scene: dict[int, set] = {}
    for (_data, name), result in zip(files, results, strict=True):
        scene = int(name.split("-")[0][1:])
        by_scene.setdefault(scene, set()).add(photo(client, result["photo"]["id"])["split"])
    assert all(len(splits) == 1 for splits in by_scene.values()), by_scene
    counts = Counter(next(iter(s)) for s in by_scene.values())
    assert counts["val"] >= 2 and counts["test"] >= 2 and counts["train"] >= 10, counts


def test_a_group_is_placed_as_a_unit():
    counts = {"train": 10, "val": 2, "test": 2}
    assert choose_split_for(counts, 1) == "val"  # 15 photos: val wants 3
    assert choose_split_for({"train": 10, "val": 1, "test": 2}, 2) == "val"  # 15: val wants 3, short of 2
    assert choose_split_for(counts, 2) == "val"  # 16: 4 in val is nearer its 3.2 than 2 is
    assert choose_split_for(counts, 6) == "train"  # 20: every split 2 short of 12/4/4: a big group trains
    assert choose_split_for({"train": 8, "val": 0, "test": 2}, 3) == "val"  # an empty val takes what fits
    assert choose_split_for({"train": 0, "val": 0, "test": 0}, 3) == "train"  # the first unit trains
    assert choose_split_for({"train": 2, "val": 0, "test": 0}, 8) == "train"  # 8 of 10 is no val


def test_three_groups_of_a_class_take_one_split_each():
    counts = {"train": 0, "val": 0, "test": 0}
    for _group in range(3):
        counts[choose_split_for(counts, 3)] += 3
    assert counts == {"train": 3, "val": 3, "test": 3}


def test_unlabeled_members_of_a_placed_group_count_where_their_group_is(client):
    """As the article works: upload all, then label one by one; a group labeled early counts whole."""
    singles = [(scene_jpeg(seed), f"single{seed}.jpg") for seed in range(42, 48)]
    shots = burst(41)[:4]
    files = [*singles[:3], *shots[:2], *singles[3:5], *shots[2:], singles[5]]
    ids = [r["photo"]["id"] for r in upload(client, files)]
    splits = [client.patch(f"/api/v1/photos/{i}", json={"label": "beer"}).get_json()["split"] for i in ids]
    assert splits[3] == "train" and {splits[i] for i in (3, 4, 7, 8)} == {"train"}
    # counting only labeled photos, the group's 3rd and 4th shots would be missed: the 6th photo would train
    assert splits == ["train", "val", "test", "train", "train", "val", "test", "train", "train", "train"]


def test_a_class_that_is_one_group_is_named_on_train_and_in_the_run(client):
    """All of a class's photos are near-duplicates: none can be held out, and Train and the run say so."""
    upload(client, burst(50), label="wings")
    upload(client, [(scene_jpeg(seed), f"b{seed}.jpg") for seed in range(51, 56)], label="beer")
    dataset = client.get("/api/v1/dataset").get_json()
    wings = next(c for c in dataset["classes"] if c["name"] == "wings")
    assert (wings["train"], wings["val"], wings["test"]) == (5, 0, 0)
    assert dataset["train_problems"] == []  # beer has val and test photos: it can train
    assert dataset["held_out_notes"] == [
        '"wings" has no validation or test photos: its 5 photos show 1 scene (the rest are '
        "near-duplicates), and near-duplicates stay in one split so that no photo is tested on a near-copy "
        'of one it trained on. Its accuracy on new photos is unknown until you add photos of other "wings" '
        "scenes"
    ]
    page = client.get("/train").get_data(as_text=True)
    assert 'id="held-out-note"' in page
    run = client.post("/api/v1/runs", json={"epochs": 1})
    assert run.status_code == 202, run.get_json()
    assert dataset["held_out_notes"][0] in run.get_json()["warnings"]


def test_a_class_moved_out_of_test_by_hand_is_named_too(client):
    ids = [r["photo"]["id"] for r in upload(client, [(scene_jpeg(s), f"{s}.jpg") for s in range(60, 66)])]
    for i in ids[:3]:
        client.patch(f"/api/v1/photos/{i}", json={"label": "beer"})
    for i in ids[3:]:
        client.patch(f"/api/v1/photos/{i}", json={"label": "wings"})
    test_photo = next(i for i in ids[:3] if photo(client, i)["split"] == "test")
    client.patch(f"/api/v1/photos/{test_photo}", json={"split": "train"})
    notes = client.get("/api/v1/dataset").get_json()["held_out_notes"]
    assert notes == [
        '"beer" has no test photos: none is in that split. Its accuracy on new photos is unknown until you '
        "label more, or move some to test on the Photos page"
    ]


def test_backfill_groups_photos_stored_before_and_unifies_their_splits(app, client, runner):
    from webapp.db import db
    from webapp.db.models import Photo

    ids = [r["photo"]["id"] for r in upload(client, [*burst(9), (scene_jpeg(10), "y.jpg")])]
    with app.app_context():  # as a database from before the migration: no fingerprints, no groups
        for row in db.session.query(Photo):
            row.fingerprint, row.group_id = None, None
        for i, split in zip(ids, ["train", "train", "test", "train", "val", "val"], strict=True):
            db.session.get(Photo, i).split = split
        db.session.commit()
    out = runner.invoke(args=["near-duplicates"])
    assert out.exit_code == 0 and "6 photos fingerprinted, 4 joined" in out.output, out.output
    assert [photo(client, i)["group"] for i in ids] == [ids[0]] * 5 + [None]
    assert [photo(client, i)["split"] for i in ids] == ["train"] * 5 + ["val"]
    again = runner.invoke(args=["near-duplicates"])
    assert "0 photos fingerprinted" in again.output


def test_the_start_of_the_app_groups_photos_from_before_the_upgrade(app, client):
    from webapp.__main__ import check_store_in_background
    from webapp.db import db
    from webapp.db.models import Photo
    from webapp.services.groups import backfill_once, needs_backfill

    ids = [r["photo"]["id"] for r in upload(client, [*burst(11), (scene_jpeg(12), "z.jpg")])]
    with app.app_context():
        assert not needs_backfill()  # new photos are fingerprinted when stored
        for row in db.session.query(Photo):
            row.fingerprint, row.group_id = None, None
        db.session.commit()
        assert needs_backfill()
        with app.extensions["huey"].lock_task("group_photos"):  # another process is at it
            assert backfill_once() is None
        assert needs_backfill()
    check_store_in_background(app).join(60)  # what `python -m webapp` does as it starts serving
    with app.app_context():
        assert not needs_backfill()
    assert [photo(client, i)["group"] for i in ids] == [ids[0]] * 5 + [None]


def test_held_out_notes_name_what_is_missing():
    from webapp.services.dataset import held_out_notes

    assert held_out_notes({"beer": {"train": 3, "val": 0, "test": 0}}, {"beer": 3}) == [
        '"beer" has no validation or test photos: none is in those splits. Its accuracy on new photos is '
        "unknown until you label more, or move some to val on the Photos page"
    ]
    assert held_out_notes({"beer": {"train": 2, "val": 0, "test": 0}}, {"beer": 1}) == []  # too few to train
    assert held_out_notes({"beer": {"train": 6, "val": 2, "test": 2}}, {"beer": 3}) == []
