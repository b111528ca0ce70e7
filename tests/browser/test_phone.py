"""A phone-sized screen (390 x 844, touch): upload and labeling fit the width, every button can be tapped."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.checks import assert_no_horizontal_overflow, assert_reachable
from tests.browser.conftest import PHONE
from tests.images import class_photo

pytestmark = pytest.mark.browser
WIDTH = PHONE["width"]


@pytest.fixture
def viewport():
    return PHONE


@pytest.fixture
def mobile():
    return True


def overlaps(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def assert_toasts_leave_free(page, selector: str) -> None:
    """No toast on screen covers a control the person is tapping through."""
    toasts = [t.bounding_box() for t in page.locator("#toast .toast").all()]
    for i, control in enumerate(page.locator(selector).all()):
        box = control.bounding_box()
        for toast in toasts:
            assert not (box and toast and overlaps(box, toast)), (
                f"a toast covers {selector} #{i}: {toast} / {box}"
            )


def test_phone_upload_and_label(browse):
    page = browse.goto("/")
    assert page.evaluate("window.matchMedia('(pointer: coarse)').matches")
    assert_no_horizontal_overflow(page, WIDTH)
    assert_reachable(page, "#dropzone")
    # On a touch screen the camera is one tap away.
    expect(page.locator("#camera-button")).to_be_visible()
    assert_reachable(page, "#camera-button")
    for link in ("#nav-upload", "#nav-label", "#nav-train", "#nav-gallery"):
        expect(page.locator(link)).to_be_visible()
    browse.shot("upload page", full_page=False)

    # Phone-style long file names must wrap, not widen the page.
    photos = {}
    for i in range(12):
        cls = "beer" if i % 2 == 0 else "wings"
        photos[f"IMG_20240612_18304{i % 10}_{cls}_{i:02d}_HDR_portrait.jpg"] = class_photo(i % 2, i)
    with page.expect_file_chooser() as chooser:
        page.tap("#dropzone")
    chooser.value.set_files([browse.write(n, d) for n, d in photos.items()])
    expect(page.locator("#upload-summary")).to_have_text("12 of 12 done · 12 stored")
    # Checked at the end: after picking photos on a phone, the uploads show without scrolling.
    progress_in_view = page.locator("#upload-summary").evaluate(
        "(e) => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; }"
    )
    assert_no_horizontal_overflow(page, WIDTH)
    browse.shot("uploaded", full_page=False)
    browse.shot("uploaded full page")
    assert_reachable(page, "#go-label")

    # Label by tapping the class buttons.
    page.tap("#go-label")
    expect(page.locator("#label-position")).to_have_text("1 / 12")
    page.wait_for_function("() => document.getElementById('label-image').complete")
    assert_no_horizontal_overflow(page, WIDTH)
    browse.shot("label page", full_page=False)
    image = page.locator("#label-image").bounding_box()
    assert image["width"] <= WIDTH and image["height"] > 100
    for selector in (".class-button", "#prev-button", "#next-button", "#unlabel-button"):
        assert_reachable(page, selector)

    for position in range(1, 7):
        expect(page.locator("#label-position")).to_have_text(f"{position} / 12")
        name = page.locator("#label-image").get_attribute("alt").removeprefix("Photo ")
        cls = "beer" if "_beer_" in name else "wings"
        button = page.locator(f'.class-button[data-class="{cls}"]')
        button.scroll_into_view_if_needed()
        button.tap()
        expect(page.locator("#save-status")).to_have_text(re.compile(rf"^Saved: #\d+ is “{cls}”$"))
        # The confirmation toast must not sit on top of the buttons the next tap goes to.
        assert_toasts_leave_free(page, ".class-button, .nav-buttons button")
    expect(page.locator("#label-position")).to_have_text("7 / 12")
    assert_no_horizontal_overflow(page, WIDTH)
    browse.shot("labeled six", full_page=False)
    page.tap("#next-button")
    expect(page.locator("#label-position")).to_have_text("8 / 12")
    page.tap("#prev-button")
    expect(page.locator("#label-position")).to_have_text("7 / 12")

    labeled = {p["filename"]: p["label"] for p in browse.photos() if p["label"]}
    assert len(labeled) == 6
    assert all(("_beer_" in n) == (label == "beer") for n, label in labeled.items())

    # The next step on a phone: the Train button is reachable and big enough to tap.
    for path in ("/train", "/photos", "/classes", "/gallery"):
        page = browse.goto(path)
        assert_no_horizontal_overflow(page, WIDTH)
        browse.shot(f"{path.strip('/')} page", full_page=False)
    page = browse.goto("/train")
    assert_reachable(page, "#train-button")
    page.tap("#advanced > summary")
    expect(page.locator("#epochs")).to_be_visible()
    assert_no_horizontal_overflow(page, WIDTH)
    browse.shot("train advanced")

    assert progress_in_view, (
        "after choosing photos on a phone the upload progress (#upload-summary, #upload-list) is below "
        "the fold: nothing on screen shows that anything happened"
    )
