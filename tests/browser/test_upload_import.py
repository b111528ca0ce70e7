"""A large zip on the upload page: imported in the background, its row follows the import, then lists files.
The photos page offers both exports, named plainly, and the default one carries no metadata."""

import io
import re
import zipfile

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.images import class_photo, phone_jpeg, text_file
from tests.live import LiveApp, app_env

pytestmark = pytest.mark.browser


@pytest.fixture
def live(tmp_path):
    """The app with a low bar for background imports: any zip of more than 2 files becomes a job."""
    instance = tmp_path / "instance"
    instance.mkdir()
    app = LiveApp(instance, app_env(instance, WEBAPP_ZIP_SYNC_MEMBERS="2")).start()
    yield app
    app.stop()


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    return buf.getvalue()


def test_large_zip_shows_its_import_then_its_files(browse):
    page = browse.goto("/")
    files = {f"pizza/{i}.jpg": class_photo(2, i) for i in range(4)} | {"pizza/notes.jpg": text_file()}
    browse.drop_files("#dropzone", {"photos.zip": make_zip(files)}, mime="application/zip")
    row = page.locator('#upload-list > .upload-row[data-filename="photos.zip"]')
    expect(row).to_have_attribute("data-status", "archive", timeout=90_000)
    browse.shot("zip imported in the background")
    children = row.locator(".upload-children > .upload-row")
    expect(children).to_have_count(5)
    expect(row.locator(":scope > .upload-outcome")).to_have_text("Archive: 5 files, 4 stored")
    expect(row.locator(".upload-children > .upload-row[data-status=stored]")).to_have_count(4)
    notes = row.locator('.upload-children > .upload-row[data-filename="pizza/notes.jpg"]')
    expect(notes.locator(".upload-outcome")).to_have_text(re.compile(r"^Rejected: \w+.{8,}"))
    expect(page.locator("#upload-summary")).to_have_text(re.compile(r"^1 of 1 done · 4 stored · 1 rejected"))
    assert {p["label"] for p in browse.photos()} == {"pizza"}


def test_photos_page_offers_both_exports_and_the_default_has_no_gps(browse):
    browse.upload({"holiday.jpg": phone_jpeg(640, 480, gps=True)}, label="beer")
    page = browse.goto("/photos")
    clean, originals = page.locator("#export-link"), page.locator("#export-originals-link")
    expect(clean).to_contain_text("clean copies, no metadata")
    expect(originals).to_contain_text("originals, with their metadata")
    expect(originals).to_have_attribute("href", "/export.zip?files=originals")
    browse.shot("export links")
    with page.expect_download() as download:
        clean.click()
    with zipfile.ZipFile(download.value.path()) as zf:
        (name,) = [n for n in zf.namelist() if n != "manifest.csv"]
        with Image.open(io.BytesIO(zf.read(name))) as im:
            assert not im.getexif(), "the default export carries no EXIF (and so no GPS)"
