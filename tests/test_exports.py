"""Dataset export: clean copies (default, no metadata) or originals, streamed downloads, `flask export`."""

import csv
import hashlib
import io
import zipfile

import pytest
from PIL import Image

from tests import disk as disk_module
from tests.accounts import token_client
from tests.images import noisy_jpeg, phone_jpeg
from tests.multipart import post_files
from tests.test_dataset_io import (
    ARTICLE_LAYOUT,
    all_photos,
    expected_by_sha,
    labels_and_splits,
    make_zip,
    photo,
)
from webapp import create_app

small_disk = disk_module.small_disk  # the fixture
GPS_IFD = 0x8825


def upload(client, *files, **form):
    return post_files(client, "/api/v1/photos", list(files), **form)


def labeled_store(client) -> dict[str, bytes]:
    """Upload the article layout as a zip, plus one unlabeled and one trashed photo; returns the layout."""
    upload(client, (make_zip(ARTICLE_LAYOUT), "d.zip"))
    extra = upload(client, (photo(3, 0), "u.jpg"), (photo(4, 0), "t.jpg")).get_json()["results"]
    trashed = extra[1]["photo"]["id"]
    client.patch(f"/api/v1/photos/{trashed}", json={"label": "beer"})
    client.delete(f"/api/v1/photos/{trashed}")
    assert len(all_photos(client)) == 8
    return ARTICLE_LAYOUT


def download(client, query: str = "") -> tuple[int, dict[str, bytes], object]:
    """GET /export.zip?query; returns the status, {name: bytes} and the response."""
    response = client.get("/export.zip" + query)
    data = response.get_data()
    response.close()
    if response.status_code != 200:
        return response.status_code, {}, response
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        return 200, {n: zf.read(n) for n in zf.namelist()}, response


def manifest_of(files: dict[str, bytes]) -> list[dict]:
    return list(csv.DictReader(io.StringIO(files.pop("manifest.csv").decode())))


def check_originals(files: dict[str, bytes], layout: dict[str, bytes]) -> None:
    """An export of originals holds exactly the labeled photos, byte for byte, at split/class/<name>."""
    manifest = manifest_of(files)
    wanted = {hashlib.sha256(b).hexdigest(): rel for rel, b in layout.items()}
    got = {hashlib.sha256(b).hexdigest(): name for name, b in files.items()}
    assert set(got) == set(wanted)  # no unlabeled, no trashed photo
    for sha, name in got.items():
        assert name.rsplit("/", 1)[0] == wanted[sha].rsplit("/", 1)[0]  # same split/class folder
    assert {row["sha256"] for row in manifest} == set(wanted)
    for row in manifest:
        assert row["path"] == got[row["sha256"]]
        assert (row["split"], row["label"]) == tuple(wanted[row["sha256"]].split("/")[:2])


def check_clean(files: dict[str, bytes], layout: dict[str, bytes]) -> None:
    """A clean export holds one bare JPEG per labeled photo at split/class/<name>, named in the manifest."""
    manifest = manifest_of(files)
    wanted = {hashlib.sha256(b).hexdigest(): rel for rel, b in layout.items()}
    assert {row["sha256"] for row in manifest} == set(wanted)
    assert sorted(row["path"] for row in manifest) == sorted(files)
    for row in manifest:
        assert row["path"].rsplit("/", 1)[0] == wanted[row["sha256"]].rsplit("/", 1)[0]
        assert_bare_jpeg(files[row["path"]])
        with Image.open(io.BytesIO(files[row["path"]])) as im:
            assert im.size == (int(row["width"]), int(row["height"]))


def assert_bare_jpeg(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG"
        assert not im.getexif() and not im.getexif().get_ifd(GPS_IFD)
        assert "icc_profile" not in im.info and "exif" not in im.info
    assert b"Exif\x00\x00" not in data


# ---------------------------------------------------------------- GET /export.zip


def test_download_defaults_to_clean_copies_without_gps(client):
    # issue 8 defect 18: /export.zip handed out the originals with their GPS block
    gps_photo = phone_jpeg(640, 480, exif_orientation=6, gps=True)
    stored = upload(client, (gps_photo, "holiday.jpg"), label="beer").get_json()["results"][0]
    assert stored["status"] == "stored"
    status, files, response = download(client)
    assert status == 200 and response.mimetype == "application/zip"
    assert 'filename="dataset.zip"' in response.headers["Content-Disposition"]
    manifest = manifest_of(files)
    assert [row["original_filename"] for row in manifest] == ["holiday.jpg"]
    (data,) = files.values()
    assert_bare_jpeg(data)
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (480, 640)  # upright: the EXIF orientation was applied, then dropped


def test_download_of_originals_keeps_them_byte_for_byte_with_gps(client):
    gps_photo = phone_jpeg(640, 480, gps=True)
    upload(client, (gps_photo, "holiday.jpg"), label="beer")
    status, files, response = download(client, "?files=originals")
    assert status == 200
    assert 'filename="dataset-originals.zip"' in response.headers["Content-Disposition"]
    manifest_of(files)
    (data,) = files.values()
    assert data == gps_photo
    with Image.open(io.BytesIO(data)) as im:
        assert im.getexif().get_ifd(GPS_IFD)  # the location is there, as the name says


def test_unknown_export_kind_is_400_naming_both(client):
    response = client.get("/export.zip?files=everything", headers={"Accept": "application/json"})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "clean" in error and "originals" in error


@pytest.mark.parametrize("query", ["", "?files=clean", "?files=originals"])
def test_download_holds_exactly_the_labeled_photos(client, query):
    layout = labeled_store(client)
    status, files, _ = download(client, query)
    assert status == 200
    (check_originals if "originals" in query else check_clean)(files, layout)


def test_download_writes_nothing_to_disk(small_disk, app_config):
    # issue 8 defect 5: the GET copied the whole dataset into a temporary zip first; on a disk with less room
    # than the dataset that copy failed. Streamed, it needs no room at all.
    instance = small_disk(6144)
    app = create_app({**app_config, "INSTANCE_PATH": str(instance)})
    client = token_client(app)
    photos = {f"train/beer/{i}.jpg": noisy_jpeg(640, 480, seed=i, exif_orientation=None) for i in range(4)}
    assert upload(client, (make_zip(photos), "d.zip")).status_code == 200
    size = sum(len(b) for b in photos.values())
    disk_module.fill(instance, leave_bytes=size // 4)
    before = sorted(p.relative_to(instance).as_posix() for p in instance.rglob("*"))
    status, files, _ = download(client, "?files=originals")
    assert status == 200
    check_originals(files, photos)
    assert sorted(p.relative_to(instance).as_posix() for p in instance.rglob("*")) == before
    _dispose(app)


def _dispose(app):
    from webapp.db import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_download_is_streamed_not_built_first(client):
    labeled_store(client)
    response = client.get("/export.zip", buffered=False)
    assert response.is_streamed and response.content_length is None
    chunks = list(response.response)
    response.close()
    assert len(chunks) > 7  # one or more chunks per photo, then the central directory


def test_export_of_empty_store_has_only_a_manifest(client):
    status, files, _ = download(client)
    assert status == 200 and list(files) == ["manifest.csv"]


def test_photo_whose_file_is_gone_is_left_out_not_a_500(client, instance_path):
    layout = labeled_store(client)
    gone = next(iter(layout.values()))
    sha = hashlib.sha256(gone).hexdigest()
    for path in (instance_path / "photos").rglob(f"{sha}.*"):
        path.unlink()
    status, files, _ = download(client, "?files=originals")
    assert status == 200
    manifest = manifest_of(files)
    assert sha not in {row["sha256"] for row in manifest} and len(manifest) == len(layout) - 1


def test_clean_copy_is_derived_when_the_display_copy_is_missing(client, instance_path):
    upload(client, (phone_jpeg(640, 480, gps=True), "a.jpg"), label="beer")
    for path in (instance_path / "photos" / "display").rglob("*.jpg"):
        path.unlink()
    status, files, _ = download(client)
    assert status == 200
    manifest_of(files)
    (data,) = files.values()
    assert_bare_jpeg(data)
    assert not list((instance_path / "photos" / "display").rglob("*.jpg"))  # a GET writes nothing


# ---------------------------------------------------------------- the manifest


def test_manifest_quotes_cells_a_spreadsheet_would_run(client):
    # issue 8 defect 12: user file names went into manifest.csv as they came, "=HYPERLINK(...)" included
    names = [
        '=HYPERLINK("http://evil.example","x").jpg',
        "+1.jpg",
        "-2.jpg",
        "@sum.jpg",
        "\tt.jpg",
        "plain.jpg",
    ]
    files = [(photo(0, 20 + i), name) for i, name in enumerate(names)]
    results = upload(client, *files, label="beer").get_json()["results"]
    assert [r["status"] for r in results] == ["stored"] * len(names)
    _, exported, _ = download(client)
    cells = sorted(row["original_filename"] for row in manifest_of(exported))
    shown = sorted(r["filename"] for r in results)
    assert cells == sorted(("'" + n if n[0] in "=+-@\t" else n) for n in shown)
    assert not [c for c in cells if c[0] in "=+-@\t\r"]


# ---------------------------------------------------------------- flask export


def test_cli_export_zip_defaults_to_clean_copies(runner, client, tmp_path):
    layout = labeled_store(client)
    target = tmp_path / "out.zip"
    result = runner.invoke(args=["export", str(target)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "exported 7 labeled photos (clean copies, no metadata)" in result.output
    with zipfile.ZipFile(target) as zf:
        check_clean({n: zf.read(n) for n in zf.namelist()}, layout)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_cli_export_zip_of_originals(runner, client, tmp_path):
    layout = labeled_store(client)
    target = tmp_path / "out.zip"
    result = runner.invoke(args=["export", "--originals", str(target)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "exported 7 labeled photos (originals, with their metadata)" in result.output
    with zipfile.ZipFile(target) as zf:
        check_originals({n: zf.read(n) for n in zf.namelist()}, layout)


@pytest.mark.parametrize("originals", [False, True])
def test_cli_export_folder(runner, client, tmp_path, originals):
    layout = labeled_store(client)
    target = tmp_path / "out"
    result = runner.invoke(args=["export", *(["--originals"] if originals else []), str(target)])
    assert result.exit_code == 0, (result.output, result.exception)
    files = {p.relative_to(target).as_posix(): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    (check_originals if originals else check_clean)(files, layout)


def test_cli_export_refuses_a_non_empty_folder(runner, client, tmp_path):
    labeled_store(client)
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    result = runner.invoke(args=["export", str(target)])
    assert result.exit_code != 0
    assert "not empty" in result.output
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]


# ---------------------------------------------------------------- round trip


@pytest.fixture
def other_app(tmp_path, app_config):
    """A second app on its own fresh instance folder (to import an export into)."""
    path = tmp_path / "other-instance"
    path.mkdir()
    app = create_app({**app_config, "INSTANCE_PATH": str(path)})
    yield app
    _dispose(app)


def test_originals_export_then_import_keeps_labels_and_splits(client, other_app):
    labeled_store(client)
    response = client.get("/export.zip?files=originals")
    data = response.get_data()
    response.close()
    other = token_client(other_app)
    results = upload(other, (data, "dataset.zip")).get_json()["results"]
    assert [r["status"] for r in results] == [
        "stored"
    ] * 7  # manifest.csv is part of the format, not a reject
    assert labels_and_splits(other) == expected_by_sha(ARTICLE_LAYOUT)


def test_clean_export_then_import_keeps_labels_and_splits(client, other_app):
    labeled_store(client)
    response = client.get("/export.zip")
    data = response.get_data()
    response.close()
    other = token_client(other_app)
    results = upload(other, (data, "dataset.zip")).get_json()["results"]
    assert [r["status"] for r in results] == ["stored"] * 7
    got = sorted(labels_and_splits(other).values())
    assert got == sorted(expected_by_sha(ARTICLE_LAYOUT).values())
