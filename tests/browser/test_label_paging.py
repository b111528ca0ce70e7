"""The label page walks the photo list a page of ids at a time (here 3 per page) and skips nobody."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_label import expect_photo, labels
from tests.images import class_photo
from tests.live import LiveApp, app_env

pytestmark = pytest.mark.browser


@pytest.fixture
def live(tmp_path):
    """The app with 3 ids per page of /api/v1/photos/ids (1000 by default)."""
    instance = tmp_path / "instance"
    instance.mkdir()
    app = LiveApp(instance, app_env(instance, WEBAPP_IDS_PER_PAGE="3")).start()
    yield app
    app.stop()


def test_labeling_walks_across_pages_of_ids(browse):
    results = browse.upload({f"beer_{i}.jpg": class_photo(0, i) for i in range(8)})
    ids = [r["photo"]["id"] for r in results]
    page = browse.goto("/label")
    expect_photo(page, ids[0], "1 / 8")
    # Labeling takes photos out of the "unlabeled" list while the page walks it: pages after the first
    # must continue where the walk is, not at an offset that has shifted.
    for n, photo_id in enumerate(ids, start=1):
        expect_photo(page, photo_id, f"{n} / 8")
        page.keyboard.press("1")
    expect(page.locator("#label-empty")).to_contain_text("End of the list")
    expect(page.locator("#label-done")).to_be_visible()
    browse.shot("end of a walk over three pages")
    assert set(labels(browse).values()) == {"beer"}
    requests = [url for url in browse.watch.requests if "/api/v1/photos/ids" in url]
    assert len(requests) >= 3 and all("after=" in url for url in requests[1:])


def test_a_photo_named_in_the_url_is_found_on_a_later_page(browse):
    results = browse.upload({f"wings_{i}.jpg": class_photo(1, i) for i in range(8)})
    ids = [r["photo"]["id"] for r in results]
    page = browse.goto(f"/label?filter=all&order=oldest&photo={ids[6]}")
    expect_photo(page, ids[6], "7 / 8")
    page.keyboard.press("ArrowRight")
    expect_photo(page, ids[7], "8 / 8")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect_photo(page, ids[5], "6 / 8")
