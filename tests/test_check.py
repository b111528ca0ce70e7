"""`flask --app webapp check [--repair] [--full]`: the store, features and model files against the rows."""

import io
import os
import time

import numpy as np
import pytest

from tests.images import class_photo
from webapp.db import db
from webapp.db.models import TrainingRun


def upload(client, n: int) -> list[dict]:
    """n stored photos (as the API returns them)."""
    files = [(io.BytesIO(class_photo(0, i, size=(48, 36))), f"p{i}.jpg") for i in range(n)]
    results = client.post("/api/v1/photos", data={"files": files}).get_json()["results"]
    assert [r["status"] for r in results] == ["stored"] * n
    return [r["photo"] for r in results]


def check(runner, *args):
    """Run the command; (exit code, output)."""
    result = runner.invoke(args=["check", *args])
    return result.exit_code, result.output


def shard(root, folder: str, sha: str, ext: str):
    """root/folder/<sha[:2]>/<sha>.<ext>"""
    return root / folder / sha[:2] / f"{sha}.{ext}"


def age(path, seconds: float = 3600) -> None:
    """Make a file look written long ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_sound_store_has_no_problems(client, runner):
    upload(client, 2)
    code, output = check(runner, "--full")
    assert code == 0, output
    assert "store check (full): 2 photos, 0 runs: no problems" in output


def test_orphan_photo_files_are_removed_only_when_old_enough(client, runner, instance_path):
    upload(client, 1)
    photos = instance_path / "photos"
    orphan = shard(photos, "originals", "ab" * 32, "jpg")  # an upload killed before its row was committed
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(class_photo(1, 9))
    temp = next((photos / "thumbs").iterdir()) / ".tmp-x1y2.jpg"
    temp.write_bytes(b"half a thumbnail")
    code, output = check(runner, "--repair")
    assert code == 1 and "left      orphan file: photos/originals/ab/" in output
    assert "newer than the grace period" in output and orphan.exists() and temp.exists()
    age(orphan), age(temp)
    code, output = check(runner, "--repair")
    assert code == 0, output
    assert "2 orphan file; 2 repaired" in output
    assert not orphan.exists() and not temp.exists()
    assert check(runner)[0] == 0


def test_missing_derived_copies_are_made_again_from_the_original(client, runner, instance_path):
    photo = upload(client, 1)[0]
    photos, sha = instance_path / "photos", photo["sha256"]
    thumb, model_input = shard(photos, "thumbs", sha, "jpg"), shard(photos, "model32", sha, "png")
    thumb.unlink(), model_input.unlink()
    code, output = check(runner)
    assert code == 1 and f"missing copy: photo {photo['id']}" in output
    code, output = check(runner, "--repair")
    assert code == 0, output
    assert thumb.is_file() and model_input.is_file()
    response = client.get(photo["thumbnail_url"])
    response.close()  # send_file keeps the file open until then
    assert response.status_code == 200


def test_a_row_without_its_original_is_reported_as_unfixable(client, runner, instance_path):
    photo = upload(client, 1)[0]
    shard(instance_path / "photos", "originals", photo["sha256"], "jpg").unlink()
    code, output = check(runner, "--repair")
    assert code == 1
    assert f"left      missing original: photo {photo['id']} (gone from disk" in output


def test_a_changed_original_shows_in_the_full_check_only(client, runner, instance_path):
    photo = upload(client, 1)[0]
    original = shard(instance_path / "photos", "originals", photo["sha256"], "jpg")
    original.write_bytes(original.read_bytes()[:-1] + b"\x00")
    assert check(runner)[0] == 0
    code, output = check(runner, "--full")
    assert code == 1 and f"hash mismatch: photo {photo['id']}" in output


def test_orphan_and_corrupt_features_are_removed(client, runner, instance_path):
    from webapp.ml.features import FeatureCache

    photo = upload(client, 1)[0]
    cache = FeatureCache(instance_path / "features", "vgg16-none-abc-32px-block4_pool")
    cache.put(photo["sha256"], np.ones(4))
    cache.put("cd" * 32, np.ones(4))  # features of a photo that is gone
    assert check(runner)[1].count("orphan features:") == 1
    cache.path(photo["sha256"]).write_bytes(b"\x93NUMPY cut short")
    for path in cache.dir.rglob("*.npy"):
        age(path)
    code, output = check(runner, "--full", "--repair")
    assert code == 0, output
    assert "corrupt features" in output and "orphan features" in output
    assert not cache.has("cd" * 32) and not cache.path(photo["sha256"]).exists()


def test_missing_features_are_queued_for_the_worker(app, client, runner, instance_path):
    from webapp.ml.features import FeatureCache

    photos = upload(client, 2)
    FeatureCache(instance_path / "features", "vgg16-none-abc-32px-block4_pool").put(
        photos[0]["sha256"], np.ones(4)
    )
    code, output = check(runner, "--repair")
    assert "missing features: 1 photos" in output and "queued for the worker" in output
    assert code == 0
    assert app.extensions["huey"].pending_count() >= 1


def add_run(app, status: str, artifacts: dict) -> int:
    with app.app_context():
        run = TrainingRun(status=status, params={}, dataset={"labels": []}, artifacts=artifacts)
        db.session.add(run)
        db.session.commit()
        return run.id


@pytest.mark.parametrize("status", ["failed", "succeeded"])
def test_model_folders_nobody_lists_are_removed(app, runner, instance_path, status):
    listed = add_run(app, "succeeded", {"model": "model.keras"})
    unlisted = add_run(app, status, {})
    models = instance_path / "models"
    for run_id in (listed, unlisted, 999):
        (models / str(run_id)).mkdir(parents=True)
        (models / str(run_id) / "model.keras").write_bytes(b"model")
        age(models / str(run_id))
    (models / ".removed-7-abcd").mkdir()
    code, output = check(runner, "--repair")
    assert code == 0, output
    assert sorted(p.name for p in models.iterdir()) == [str(listed)]


def test_a_listed_model_that_is_gone_is_unlisted(app, client, runner):
    run_id = add_run(app, "succeeded", {"model": "model.keras"})
    code, output = check(runner, "--repair")
    assert f"missing model files: run {run_id}" in output and code == 0
    assert client.get(f"/api/v1/runs/{run_id}").get_json()["has_model_files"] is False
