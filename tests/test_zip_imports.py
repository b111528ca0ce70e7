"""Zip uploads: unreadable members, limits checked before reading, folder names as classes, import jobs."""

import io
import struct
import zipfile
import zlib
from datetime import timedelta

import pytest

from tests.accounts import token_client
from tests.images import class_photo, noisy_jpeg
from tests.live import LiveApp, app_env, wait_until
from tests.multipart import post_files
from tests.test_scale_out import pg_url  # noqa: F401 - a fixture

MIB = 2**20


def jpeg(i: int, cls: int = 0) -> bytes:
    return class_photo(cls, i, size=(48, 36))


def make_zip(entries: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, body in entries.items():
            zf.writestr(name, body)
    return buf.getvalue()


def upload(client, *files, **form):
    return post_files(client, "/api/v1/photos", list(files), **form)


def results_by_name(response) -> dict[str, dict]:
    assert response.status_code == 200, response.get_json()
    return {r["filename"]: r for r in response.get_json()["results"]}


def photo_count(client) -> int:
    return client.get("/api/v1/photos").get_json()["total"]


def store_files(instance_path) -> list:
    root = instance_path / "photos"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def originals(instance_path) -> list:
    return [p for p in store_files(instance_path) if "originals" in p.parts]


# ---------------------------------------------------------------- zips built by hand (bombs, encryption)


def zip_of_raw(members: list[tuple[str, bytes, int, int, int, int]]) -> bytes:
    """A zip from (name, compressed data, method, crc, unpacked size, flags) members, written by hand."""
    out, central = io.BytesIO(), io.BytesIO()
    for name, data, method, crc, size, flags in members:
        offset, raw = out.tell(), name.encode()
        fields = (20, flags, method, 0, 0x21, crc, len(data), size, len(raw))
        out.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", *fields, 0) + raw + data)
        central.write(
            struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, 0, offset) + raw
        )
    start, directory = out.tell(), central.getvalue()
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), start, 0)
    return out.getvalue() + directory + end


def deflated_zeros(size: int) -> tuple[bytes, int]:
    """Raw deflate data of size zero bytes, and their CRC-32 (computed once, cheaply)."""
    packer, crc, chunk = zlib.compressobj(9, zlib.DEFLATED, -15), 0, bytes(MIB)
    parts = []
    for _ in range(size // MIB):
        parts.append(packer.compress(chunk))
        crc = zlib.crc32(chunk, crc)
    return b"".join(parts) + packer.flush(), crc


def bomb(members: int, size: int) -> bytes:
    """members entries of size zero bytes each (the probe's: 100 x 50 MiB in about 5 MB)."""
    data, crc = deflated_zeros(size)
    return zip_of_raw([(f"beer/{i}.jpg", data, 8, crc, size, 0) for i in range(members)])


def stored_member(name: str, body: bytes, flags: int = 0) -> tuple:
    return (name, body, 0, zlib.crc32(body), len(body), flags)


# ---------------------------------------------------------------- unreadable members (defect 2)


def test_encrypted_member_is_rejected_and_the_rest_stored(client, instance_path):
    # issue 8 defect 2: an encrypted member raised RuntimeError: 500 after earlier members were committed
    archive = zip_of_raw(
        [
            stored_member("beer/a.jpg", jpeg(1)),
            stored_member("beer/secret.jpg", jpeg(2), flags=0x1),
            stored_member("beer/c.jpg", jpeg(3)),
        ]
    )
    results = results_by_name(upload(client, (archive, "x.zip")))
    assert results["beer/a.jpg"]["status"] == "stored" and results["beer/c.jpg"]["status"] == "stored"
    assert results["beer/secret.jpg"]["status"] == "rejected"
    assert "encrypted" in results["beer/secret.jpg"]["error"]
    assert photo_count(client) == 2 and len(originals(instance_path)) == 2


def test_corrupt_deflate_member_is_rejected_and_the_rest_stored(client, instance_path):
    # issue 8 defect 2: damaged deflate data raised zlib.error: 500 after earlier members were committed
    good = make_zip({"beer/a.jpg": jpeg(1), "beer/b.jpg": jpeg(2), "beer/c.jpg": jpeg(3)})
    info = zipfile.ZipFile(io.BytesIO(good)).getinfo("beer/b.jpg")
    data_at = info.header_offset + 30 + len(info.filename)  # fixed local header, then the name, no extra
    damaged = good[:data_at] + b"\xff" * 4 + good[data_at + 4 :]  # BTYPE 11: an invalid deflate block
    results = results_by_name(upload(client, (damaged, "x.zip")))
    assert [results[n]["status"] for n in ("beer/a.jpg", "beer/b.jpg", "beer/c.jpg")] == [
        "stored",
        "rejected",
        "stored",
    ]
    assert "damaged" in results["beer/b.jpg"]["error"]
    assert photo_count(client) == 2 and len(originals(instance_path)) == 2


def test_member_with_a_wrong_checksum_is_rejected(client):
    body = jpeg(4)
    archive = zip_of_raw([stored_member("beer/a.jpg", jpeg(1)), ("beer/b.jpg", body, 0, 12345, len(body), 0)])
    results = results_by_name(upload(client, (archive, "x.zip")))
    assert results["beer/a.jpg"]["status"] == "stored"
    assert results["beer/b.jpg"]["status"] == "rejected" and "checksum" in results["beer/b.jpg"]["error"]


def test_unreadable_compression_method_is_rejected_without_reading(client):
    archive = make_zip({"beer/a.jpg": jpeg(1), "beer/b.jpg": jpeg(2)})
    patched = bytearray(archive)
    info = zipfile.ZipFile(io.BytesIO(archive)).getinfo("beer/b.jpg")
    central = archive.rindex(
        b"PK\x01\x02" + archive[archive.rindex(b"PK\x01\x02") + 4 : archive.rindex(b"PK\x01\x02") + 6]
    )
    assert central and info
    for at in (info.header_offset + 8, _central_entry(archive, "beer/b.jpg") + 10):
        patched[at : at + 2] = struct.pack("<H", 99)  # AES (WinZip): not one we read
    results = results_by_name(upload(client, (bytes(patched), "x.zip")))
    assert results["beer/a.jpg"]["status"] == "stored"
    assert "method we do not read" in results["beer/b.jpg"]["error"]


def _central_entry(archive: bytes, name: str) -> int:
    at = archive.index(b"PK\x01\x02")
    while True:
        size = struct.unpack("<H", archive[at + 28 : at + 30])[0]
        if archive[at + 46 : at + 46 + size].decode() == name:
            return at
        at = archive.index(b"PK\x01\x02", at + 4)


# ---------------------------------------------------------------- limits before reading (defect 14)


def test_the_probes_zip_bomb_is_refused_from_its_directory(client, instance_path):
    # issue 8 defect 14: 100 members of 50 MiB of zeros in 5 MB held a request thread for over 2 minutes
    response = upload(client, (bomb(100, 50 * MIB), "bomb.zip"))
    assert response.status_code == 413
    (result,) = response.get_json()["results"]
    assert result["status"] == "rejected"
    assert result["error"] == "The zip would unpack to 5,000 MiB; the limit is 4,096 MiB per zip"
    assert photo_count(client) == 0 and store_files(instance_path) == []


def test_zip_far_more_compressed_than_photos_is_refused(client, instance_path):
    (result,) = upload(client, (bomb(10, 2 * MIB), "bomb.zip")).get_json()["results"]
    assert result["status"] == "rejected"
    assert "20 MiB from" in result["error"] and "times its size; the limit is 20 times" in result["error"]
    assert store_files(instance_path) == []


def test_one_member_far_more_compressed_than_photos_is_not_read(client):
    photos = {f"beer/{i}.jpg": noisy_jpeg(320, 240, seed=i, exif_orientation=None) for i in range(8)}
    zeros, crc = deflated_zeros(2 * MIB)
    archive = zip_of_raw(
        [stored_member(name, body) for name, body in photos.items()]
        + [("beer/zeros.jpg", zeros, 8, crc, 2 * MIB, 0)]
    )
    results = results_by_name(upload(client, (archive, "x.zip")))
    assert all(results[name]["status"] == "stored" for name in photos)
    error = results["beer/zeros.jpg"]["error"]
    assert error.startswith("This file would unpack to 2 MiB from") and "the limit is 20 times" in error


def test_zip_with_too_many_files_is_refused_before_reading(make_app, instance_path):
    # issue 8 defect 14: a 2.2 MB zip of 20,000 tiny members held a thread for 81.5 s
    client = token_client(make_app(ZIP_MAX_MEMBERS=100))
    archive = make_zip({f"beer/{i}.jpg": b"tiny" for i in range(101)})
    (result,) = upload(client, (archive, "many.zip")).get_json()["results"]
    assert result["status"] == "rejected"
    assert result["error"].startswith("The zip holds 101 files; the limit is 100 files per zip")
    assert store_files(instance_path) == []


def test_the_probes_twenty_thousand_member_zip_is_refused(client):
    archive = make_zip({f"beer/{i}.jpg": b"t" for i in range(20_000)}, method=zipfile.ZIP_STORED)
    (result,) = upload(client, (archive, "many.zip")).get_json()["results"]
    assert result["error"].startswith("The zip holds 20,000 files; the limit is 10,000 files per zip")


# ---------------------------------------------------------------- folder names as classes (defect 14)


def class_names(client) -> list[str]:
    return sorted(c["name"] for c in client.get("/api/v1/classes").get_json())


def test_one_zip_creates_at_most_the_capped_number_of_classes(make_app):
    # issue 8 defect 14: a zip's 300 folder names became 300 classes
    client = token_client(make_app(ZIP_MAX_NEW_CLASSES=3))
    folders = ["pizza", "salad", "soup", "tmp", "%2e%2e"]
    archive = make_zip(
        {f"{f}/{i}.jpg": jpeg(i, cls=i) for i, f in enumerate(folders)} | {"beer/x.jpg": jpeg(9)}
    )
    results = results_by_name(upload(client, (archive, "x.zip")))
    assert class_names(client) == ["beer", "pizza", "salad", "soup", "wings"]
    assert results["beer/x.jpg"]["status"] == "stored"  # an existing class costs nothing
    for folder in ("tmp", "%2e%2e"):
        result = results[f"{folder}/{folders.index(folder)}.jpg"]
        assert result["status"] == "rejected" and "at most 3 new classes" in result["error"]


def test_default_cap_on_new_classes(make_app):
    client = token_client(make_app(ZIP_SYNC_MEMBERS=1000))  # imported during the request, not by a job
    archive = make_zip({f"class{i:03d}/a.jpg": jpeg(i, cls=i) for i in range(300)})
    results = upload(client, (archive, "x.zip")).get_json()["results"]
    assert len(class_names(client)) == 2 + 20
    assert sum(r["status"] == "stored" for r in results) == 20


def test_folder_names_are_checked_as_class_names_before_reading(client, instance_path):
    archive = make_zip({"beer/a.jpg": jpeg(1), ("x" * 80) + "/b.jpg": jpeg(2)})
    results = results_by_name(upload(client, (archive, "x.zip")))
    bad = results[("x" * 80) + "/b.jpg"]
    assert bad["status"] == "rejected" and "cannot be a class name" in bad["error"]
    assert results["beer/a.jpg"]["status"] == "stored"
    assert len(originals(instance_path)) == 1


# ---------------------------------------------------------------- large zips: an import job (defect 14)


def run_job(app, import_id: int) -> None:
    """Run the import_zip job body here, as the worker process would."""
    from webapp.db import db
    from webapp.services.import_jobs import run_import

    with app.app_context():
        run_import(import_id)
        db.session.remove()


def test_large_zip_is_queued_and_answered_at_once(make_app, instance_path):
    app = make_app(ZIP_SYNC_MEMBERS=2)
    client = token_client(app)
    archive = make_zip(
        {"train/beer/a.jpg": jpeg(1), "val/beer/b.jpg": jpeg(2), "pizza/c.jpg": jpeg(3, cls=2)}
    )
    response = upload(client, (archive, "big.zip"))
    assert response.status_code == 202
    body = response.get_json()
    assert body["results"] == [] and body["imports"] == [body["import"]]
    job = body["import"]
    assert job["status"] == "queued" and job["filename"] == "big.zip"
    assert job["progress"] == {"done": 0, "total": 0} and job["url"] == f"/api/v1/imports/{job['id']}"
    assert photo_count(client) == 0  # nothing imported on the request thread
    assert [p.suffix for p in (instance_path / "imports").iterdir()] == [".zip"]

    run_job(app, job["id"])
    done = client.get(job["url"]).get_json()
    assert done["status"] == "done" and done["error"] is None
    assert done["progress"] == {"done": 3, "total": 3}
    assert done["counts"] == {"stored": 3, "duplicate": 0, "rejected": 0}
    by_name = {r["filename"]: r for r in done["results"]}
    assert set(by_name) == {"train/beer/a.jpg", "val/beer/b.jpg", "pizza/c.jpg"}
    photo = client.get(f"/api/v1/photos/{by_name['val/beer/b.jpg']['photo_id']}").get_json()
    assert (photo["label"], photo["split"]) == ("beer", "val")
    assert "pizza" in class_names(client)
    assert list((instance_path / "imports").iterdir()) == []  # the saved zip is gone once imported


def test_import_job_reports_each_file(make_app):
    app = make_app(ZIP_SYNC_MEMBERS=1)
    client = token_client(app)
    upload(client, (jpeg(1), "a.jpg"))
    archive = make_zip(
        {"beer/a.jpg": jpeg(1), "beer/notes.jpg": b"not a photo at all", "beer/c.jpg": jpeg(3)}
    )
    job = upload(client, (archive, "big.zip"), label="wings").get_json()["import"]
    assert job["label"] == "wings"
    run_job(app, job["id"])
    done = client.get(job["url"]).get_json()
    assert done["counts"] == {"stored": 1, "duplicate": 1, "rejected": 1}
    by_name = {r["filename"]: r for r in done["results"]}
    assert by_name["beer/a.jpg"]["duplicate_of"] == by_name["beer/a.jpg"]["photo_id"]
    assert by_name["beer/notes.jpg"]["status"] == "rejected" and by_name["beer/notes.jpg"]["error"]
    assert client.get(f"/api/v1/photos/{by_name['beer/c.jpg']['photo_id']}").get_json()["label"] == "wings"


def test_a_job_runs_once(make_app):
    app = make_app(ZIP_SYNC_MEMBERS=1)
    client = token_client(app)
    job = upload(client, (make_zip({"a.jpg": jpeg(1), "b.jpg": jpeg(2)}), "big.zip")).get_json()["import"]
    run_job(app, job["id"])
    run_job(app, job["id"])  # a second delivery of the same job finds it done and does nothing
    assert client.get(job["url"]).get_json()["counts"]["stored"] == 2


def test_import_whose_worker_stopped_reads_as_failed(make_app):
    app = make_app(ZIP_SYNC_MEMBERS=1)
    client = token_client(app)
    job = upload(client, (make_zip({"a.jpg": jpeg(1), "b.jpg": jpeg(2)}), "big.zip")).get_json()["import"]
    from webapp.db import db
    from webapp.db.models import ImportJob, utcnow

    with app.app_context():  # a worker claimed it, wrote some progress, then died (kill -9)
        row = db.session.get(ImportJob, job["id"])
        row.status, row.done, row.total = "running", 1, 2
        row.updated_at = utcnow() - timedelta(minutes=10)
        db.session.commit()
    shown = client.get(job["url"]).get_json()
    assert shown["status"] == "failed"
    assert "worker stopped" in shown["error"] and "Upload the zip again" in shown["error"]


def test_unknown_import_is_404(client):
    response = client.get("/api/v1/imports/999")
    assert response.status_code == 404 and "no import 999" in response.get_json()["error"]


@pytest.mark.slow
def test_large_zip_is_imported_by_the_worker_process(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    env = app_env(instance, WEBAPP_ZIP_SYNC_MEMBERS="2", WEBAPP_WTF_CSRF_ENABLED="false")
    live = LiveApp(instance, env).start()
    try:
        archive = make_zip({f"beer/{i}.jpg": jpeg(i) for i in range(5)})
        response = live.post("/api/v1/photos", files={"files": ("big.zip", archive)})
        assert response.status_code == 202, response.text
        url = response.json()["import"]["url"]
        done = wait_until(
            lambda: live.get(url).json() if live.get(url).json()["status"] == "done" else None,
            90,
            "the worker did not import the zip",
        )
        assert done["counts"]["stored"] == 5
        assert live.get("/api/v1/photos").json()["total"] == 5
    finally:
        live.stop()


def test_import_job_on_postgresql(pg_url, make_app):  # noqa: F811 - the fixture
    app = make_app(DATABASE_URL=pg_url, ZIP_SYNC_MEMBERS=1)
    client = token_client(app)
    archive = make_zip({"train/pizza/a.jpg": jpeg(1, 2), "beer/b.jpg": jpeg(2), "beer/c\x00.jpg": jpeg(3)})
    job = upload(client, (archive, "big.zip")).get_json()["import"]
    run_job(app, job["id"])
    run_job(app, job["id"])
    done = client.get(job["url"]).get_json()
    assert done["status"] == "done" and done["counts"] == {"stored": 3, "duplicate": 0, "rejected": 0}
    assert "pizza" in class_names(client)
