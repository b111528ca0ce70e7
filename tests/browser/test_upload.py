"""Upload through the file chooser and by drag and drop: one row per file, its progress and its outcome."""

import re

import pytest
from playwright.sync_api import expect

from tests.images import class_photo, text_file

pytestmark = pytest.mark.browser


def test_upload_by_file_chooser_and_drop(browse):
    page = browse.goto("/")
    expect(page.locator("#upload-results")).to_be_hidden()
    expect(page.locator("#nav-upload")).to_have_attribute("aria-current", "page")
    browse.shot("empty upload page")

    # 10 photos and a note saved as .jpg, picked in the file chooser opened by clicking the drop zone.
    chosen = {f"beer_{i:02d}.jpg": class_photo(0, i) for i in range(5)}
    chosen |= {f"wings_{i:02d}.jpg": class_photo(1, i) for i in range(5)}
    paths = [browse.write(name, data) for name, data in chosen.items()]
    paths.append(browse.write("notes.jpg", text_file()))
    with page.expect_file_chooser() as chooser:
        page.click("#dropzone")
    assert chooser.value.is_multiple()
    chooser.value.set_files(paths)

    rows = page.locator("#upload-list > .upload-row")
    expect(rows).to_have_count(11)
    expect(page.locator("#upload-summary")).to_have_text(re.compile(r"^11 of 11 done"))
    browse.shot("chooser uploads done")
    expect(page.locator("#upload-list > .upload-row[data-status=stored]")).to_have_count(10)
    for name in chosen:
        row = page.locator(f'#upload-list > .upload-row[data-filename="{name}"]')
        expect(row).to_have_attribute("data-status", "stored")
        expect(row.locator(".upload-outcome")).to_have_text(re.compile(r"^Stored as photo #\d+"))
        expect(row.locator(".bar")).to_have_attribute("aria-valuenow", "100")
    rejected = page.locator('#upload-list > .upload-row[data-filename="notes.jpg"]')
    expect(rejected).to_have_attribute("data-status", "rejected")
    # The reason is in plain words, not just "rejected".
    expect(rejected.locator(".upload-outcome")).to_have_text(re.compile(r"^Rejected: \w+.{8,}"))
    # Rejected files are listed on top, with their reasons; every file's row is folded below.
    expect(page.locator("#upload-rejected > li")).to_have_count(1)
    listed = page.locator('#upload-rejected > li[data-filename="notes.jpg"]')
    expect(listed).to_have_text(re.compile(r"^notes.jpg: \w+.{8,}"))
    expect(rejected).to_be_hidden()
    expect(page.locator("#upload-summary")).to_have_text("11 of 11 done · 10 stored · 1 rejected")

    stored = {p["filename"]: p for p in browse.photos()}
    assert set(stored) == set(chosen), "exactly the ten photos are stored, the note is not"
    assert all(p["label"] is None for p in stored.values())

    # Four more photos and a copy of one already stored, dropped on the drop zone.
    dropped = {f"beer_{i:02d}.jpg": class_photo(0, i) for i in range(5, 7)}
    dropped |= {f"wings_{i:02d}.jpg": class_photo(1, i) for i in range(5, 7)}
    copy = {"copy of beer_00.jpg": chosen["beer_00.jpg"]}
    browse.drop_files("#dropzone", dropped | copy)
    expect(rows).to_have_count(16)
    expect(page.locator("#upload-summary")).to_have_text(re.compile(r"^16 of 16 done"))
    browse.shot("drop uploads done")
    for name in dropped:
        row = page.locator(f'#upload-list > .upload-row[data-filename="{name}"]')
        expect(row).to_have_attribute("data-status", "stored")
        expect(row.locator(".bar")).to_have_attribute("aria-valuenow", "100")
    duplicate = page.locator('#upload-list > .upload-row[data-filename="copy of beer_00.jpg"]')
    expect(duplicate).to_have_attribute("data-status", "duplicate")
    original = stored["beer_00.jpg"]["id"]
    expect(duplicate.locator(".upload-outcome")).to_have_text(
        f"Duplicate of photo #{original} (not stored again)"
    )
    expect(duplicate.locator(".upload-outcome a")).to_have_attribute(
        "href", re.compile(rf"photo={original}$")
    )
    expect(page.locator("#upload-summary")).to_have_text(
        "16 of 16 done · 14 stored · 1 duplicate · 1 rejected"
    )

    photos = browse.photos()
    assert len(photos) == 14
    assert {p["filename"] for p in photos} == set(chosen) | set(dropped)
    # The count bar on every page follows the uploads; the next step is offered.
    expect(page.locator("#unlabeled-count .chip-count")).to_have_text("14")
    expect(page.locator("#go-label")).to_be_visible()
    browse.shot("all uploads")

    # "Clear finished" empties the list; the next step leads to labeling.
    page.click("#clear-finished")
    expect(rows).to_have_count(0)
    page.click("#go-label")
    expect(page.locator("#label-image")).to_have_attribute("data-photo-id", re.compile(r"\d+"))
    expect(page.locator("#label-position")).to_have_text("1 / 14")
    browse.shot("label page after upload")
