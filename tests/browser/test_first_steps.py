"""What a new user meets: empty pages that say what to do first, a Train button that says why it cannot train
yet, the end of a labeling pass (skipped photos counted, the class balance), and deleting a class undone."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.images import class_photo

pytestmark = pytest.mark.browser
WIDE = {"width": 1366, "height": 900}


@pytest.fixture
def viewport():
    return WIDE


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["desktop", "phone"])
def test_an_empty_app_says_upload_first(browse, viewport):
    page = browse.goto("/photos")
    empty = page.locator("#photos-empty")
    expect(empty).to_contain_text("No photos yet")
    expect(empty).not_to_contain_text("match these filters")
    expect(empty.locator("a", has_text="Upload photos")).to_have_attribute("href", "/")
    browse.shot("photos empty")

    page = browse.goto("/label")
    message = page.locator("#label-empty")
    expect(message).to_contain_text("No photos yet. Upload some photos first")
    expect(message).not_to_contain_text("No unlabeled photos left")
    expect(message.locator("a", has_text="Upload photos")).to_be_visible()
    browse.shot("label empty")

    page = browse.goto("/train")
    button = page.locator("#train-button")
    expect(button).to_have_attribute("aria-disabled", "true")
    expect(button).to_have_attribute("aria-describedby", "train-blocked")
    blocked = page.locator("#train-blocked")
    expect(blocked).to_contain_text("Train is not possible yet")
    expect(blocked).to_contain_text("Label photos of at least two classes")
    expect(blocked.locator("a", has_text="Upload photos")).to_be_visible()
    browse.shot("train refused")
    button.focus()  # still reachable by keyboard (aria-disabled), its reason read out with it
    page.keyboard.press("Enter")  # refused in the page: no request, no run
    expect(page).to_have_url(browse.url + "/train")
    assert browse.get("/api/v1/runs") == []
    # With photos but none labeled, the Label page says every photo is labeled only when it is true.
    browse.upload({"a.jpg": class_photo(0, 1)})
    page = browse.goto("/photos")
    expect(page.locator(".photo-tile")).to_have_count(1)
    browse.goto("/photos?show=label:wings")
    expect(page.locator("#photos-empty")).to_contain_text("No photos match these filters")


def test_the_end_of_a_pass_counts_skipped_photos_and_tells_the_class_balance(browse):
    browse.upload({f"p{i}.jpg": class_photo(i % 2, i) for i in range(6)})
    page = browse.goto("/label")
    expect(page.locator("#label-position")).to_have_text("1 / 6")
    top = page.locator("#label-stage").bounding_box()["y"]
    for key in ("1", "1", "1", "ArrowRight", "2", "ArrowRight"):
        page.keyboard.press(key)
    # Unbalanced now (3 beer, 1 wings), and still nothing above the photo moved while labeling.
    expect(page.locator("#label-done")).to_be_visible()
    assert page.locator("#label-stage").bounding_box()["y"] == top
    expect(page.locator(".status-strip .banner")).to_have_count(0)
    expect(page.locator("#label-done-text")).to_have_text(
        " 4 photos labeled in this session, 2 skipped (still unlabeled)."
    )
    imbalance = page.locator("#label-done-imbalance")
    expect(imbalance).to_contain_text('Classes are imbalanced: "beer" has 3 photos and "wings" only 1')
    browse.shot("end of pass")
    page.click("#restart-button:has-text('Label the 2 skipped')")
    expect(page.locator("#label-position")).to_have_text("1 / 2")

    page = browse.goto("/train")
    expect(page.locator("#imbalance-note")).to_contain_text('"wings" only 1')
    expect(page.locator("#train-blocked")).to_contain_text("too few: wings")
    browse.shot("train imbalance")


def test_deleting_a_class_closes_the_key_gap_and_can_be_undone(browse):
    browse.api("POST", "/api/v1/classes", {"name": "pizza"})
    stored = browse.upload({f"w{i}.jpg": class_photo(1, i) for i in range(3)}, "wings")
    wings = [r["photo"]["id"] for r in stored]
    page = browse.goto("/classes")
    expect(page.locator(".class-row")).to_have_count(3)
    expect(page.locator("#deleted-card")).to_be_hidden()
    page.click('.class-row[data-class="wings"] .delete-class-button')
    expect(page.locator("#confirm-message")).to_contain_text("restore the class with their labels afterwards")
    page.click("#confirm-ok")
    undo = page.locator("#class-undo")
    expect(undo).to_contain_text("3 photos became unlabeled")
    expect(undo).to_contain_text("“pizza” is now key 2")
    expect(page.locator(".class-row")).to_have_count(2)
    expect(page.locator('.class-row[data-class="pizza"] .class-key')).to_have_value("2")
    expect(page.locator('#deleted-list .deleted-row[data-class="wings"]')).to_contain_text("3 photos")
    browse.shot("deleted")
    page = browse.goto("/label")
    expect(page.locator('.class-button[data-class="pizza"]')).to_have_attribute("aria-keyshortcuts", "2")

    page = browse.goto("/classes")
    page.click('.deleted-row[data-class="wings"] .restore-class-button')
    expect(page.locator(".toast-success")).to_contain_text("Restored “wings”: 3 photos labeled again")
    expect(page.locator(".class-row")).to_have_count(3)
    expect(page.locator('.class-row[data-class="wings"] .class-key')).to_have_value("2")
    expect(page.locator('.class-row[data-class="pizza"] .class-key')).to_have_value("3")
    expect(page.locator("#deleted-card")).to_be_hidden()
    assert [browse.get(f"/api/v1/photos/{i}")["label"] for i in wings] == ["wings"] * 3
    browse.shot("restored")

    # The Undo right after a delete does the same.
    page.click('.class-row[data-class="pizza"] .delete-class-button')
    page.click("#confirm-ok")
    page.click("#undo-delete-button")
    expect(page.locator(".toast-success")).to_contain_text("Restored “pizza”")
    expect(page.locator("#class-undo")).to_be_hidden()
    expect(page.locator('.class-row[data-class="pizza"] .class-key')).to_have_value("3")
