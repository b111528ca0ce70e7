"""Near-duplicates in the browser: the upload row says which photo a burst shot joins; the Photos page lists
a photo's near-duplicates."""

import re

import pytest
from playwright.sync_api import expect

from tests.scenes import scene_jpeg

pytestmark = pytest.mark.browser

WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize(("viewport", "mobile"), [(WIDE, False), (PHONE, True)], ids=["desktop", "phone"])
def test_upload_notes_and_the_photos_page_show_near_duplicates(browse, viewport, mobile):
    page = browse.goto("/")
    first = browse.upload({"scene.jpg": scene_jpeg(1)})[0]["photo"]["id"]
    burst = {"burst.jpg": scene_jpeg(1, "burst"), "brighter.jpg": scene_jpeg(1, "brightened")}
    browse.drop_files("#dropzone", burst | {"another scene.jpg": scene_jpeg(2)})
    expect(page.locator("#upload-summary")).to_have_text(re.compile(r"^3 of 3 done"))
    for name in burst:
        row = page.locator(f'#upload-list > .upload-row[data-filename="{name}"]')
        expect(row.locator(".upload-outcome")).to_have_text(
            re.compile(rf"^Stored as photo #\d+ · near-duplicate of photo #{first}$")
        )
    other = page.locator('#upload-list > .upload-row[data-filename="another scene.jpg"]')
    expect(other.locator(".upload-outcome")).not_to_contain_text("near-duplicate")
    browse.shot("upload rows with near-duplicate notes")

    page = browse.goto("/photos")
    expect(page.locator(".photo-tile")).to_have_count(4)
    links = page.locator(".photo-tile .tile-group")
    expect(links).to_have_count(3)
    browse.shot("photos page with near-duplicate links")
    links.first.focus()
    page.keyboard.press("Enter")  # keyboard usable
    expect(page).to_have_url(re.compile(rf"[?&]group={first}\b"))
    expect(page.locator(".photo-tile")).to_have_count(3)
    expect(page.locator("#group-filter")).to_contain_text(f"Near-duplicates of photo #{first}")
    browse.shot("near-duplicates of one photo")
    page.locator("#group-filter a").click()
    expect(page.locator(".photo-tile")).to_have_count(4)

    # A class whose photos are all one scene cannot be tested honestly: the Train page says so.
    for photo in browse.photos():
        label = "beer" if photo["group"] is None else "wings"
        browse.api("PATCH", f"/api/v1/photos/{photo['id']}", {"label": label})
    browse.upload({f"beer {seed}.jpg": scene_jpeg(seed) for seed in range(3, 6)}, label="beer")
    page = browse.goto("/train")
    note = page.locator("#held-out-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text('"wings" has no validation or test photos: its 3 photos show 1 scene')
    expect(page.locator("#train-blocked")).to_be_hidden()  # beer has val and test photos: it can train
    browse.shot("train page names a class that is one scene")
