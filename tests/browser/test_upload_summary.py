"""Upload results as a summary: counts, the rejected files with reasons, the next step on top, rows folded."""

import re

import pytest
from playwright.sync_api import expect

from tests.images import class_photo, text_file

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def viewport():
    return {"width": 1366, "height": 900}


def choose(page, browse, files: dict[str, bytes]) -> None:
    with page.expect_file_chooser() as chooser:
        page.click("#dropzone")
    chooser.value.set_files([browse.write(name, data) for name, data in files.items()])


def test_upload_summary_and_the_next_step(browse):
    page = browse.goto("/")

    # ---- 30 photos uploaded as "beer", two files that are no photos, one copy: everything gets a label. ----
    page.select_option("#upload-label", "beer")
    files = {f"IMG_{i:04d}.jpg": class_photo(0, i) for i in range(30)}
    files |= {"notes.jpg": text_file(), "empty.png": b"", "copy.jpg": files["IMG_0000.jpg"]}
    choose(page, browse, files)
    expect(page.locator("#upload-summary")).to_have_text(
        "33 of 33 done · 30 stored · 1 duplicate · 2 rejected"
    )
    # The next step fits: every photo has a label, so it is Train, not Label.
    expect(page.locator("#upload-next")).to_be_visible()
    expect(page.locator("#go-train")).to_be_visible()
    expect(page.locator("#go-label")).to_be_hidden()
    expect(page.locator("#upload-next-text")).to_have_text(
        "30 photos stored, and every photo has a label. Next: train a model."
    )
    # The rejected ones are listed with their reasons; the 33 rows are folded.
    rejected = page.locator("#upload-rejected > li")
    expect(rejected).to_have_count(2)
    for name in ("notes.jpg", "empty.png"):
        expect(page.locator(f'#upload-rejected > li[data-filename="{name}"]')).to_have_text(
            re.compile(rf"^{re.escape(name)}: \w.{{8,}}")
        )
    expect(page.locator("#upload-file-count")).to_have_text("33")
    expect(page.locator("#upload-list > .upload-row")).to_have_count(33)
    expect(page.locator("#upload-list")).to_be_hidden()
    # The next step is on the first screen, not below 33 rows.
    box = page.locator("#upload-next").bounding_box()
    results = page.locator("#upload-results").bounding_box()
    assert box["y"] - results["y"] < 200, "the next step is not at the top of the results"
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 2000, f"the page is {height} px long with 33 uploads"
    browse.shot("labeled upload summary")
    # Each file's details are one click away, each row with room for a note.
    page.click("#upload-details > summary")
    expect(page.locator("#upload-list")).to_be_visible()
    expect(page.locator('#upload-list > .upload-row[data-filename="copy.jpg"] .upload-outcome')).to_have_text(
        re.compile(r"^Duplicate of photo #\d+ ")
    )
    expect(page.locator("#upload-list > .upload-row > .upload-note")).to_have_count(33)
    browse.shot("every file unfolded")
    photos = browse.photos()
    assert len(photos) == 30 and {p["label"] for p in photos} == {"beer"}

    # ---- Photos left unlabeled: the next step is Label, with the count. ----
    page.click("#clear-finished")
    expect(page.locator("#upload-problems")).to_be_hidden()
    page.select_option("#upload-label", "")
    choose(page, browse, {f"later_{i}.jpg": class_photo(1, i) for i in range(3)})
    summary = "36 of 36 done · 33 stored · 1 duplicate · 2 rejected"  # the session's uploads so far
    expect(page.locator("#upload-summary")).to_have_text(summary)
    expect(page.locator("#go-label")).to_be_visible()
    expect(page.locator("#go-train")).to_be_hidden()
    expect(page.locator("#upload-file-count")).to_have_text("3")  # the rows left after "Clear finished"
    expect(page.locator("#upload-next-text")).to_have_text(
        "33 photos stored. Next: label them (3 photos without a label)."
    )
    browse.shot("unlabeled upload summary")
    page.set_viewport_size(PHONE)
    page.locator("#upload-results").scroll_into_view_if_needed()
    browse.shot("unlabeled upload summary phone", full_page=False)
    page.click("#go-label")
    expect(page.locator("#label-position")).to_have_text("1 / 3")
