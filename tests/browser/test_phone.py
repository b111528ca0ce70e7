"""Phone screens (390 x 844 and 360 x 740, touch): upload, label with taps and swipes, gallery and run pages.

On the label page the whole photo, the class buttons and the accept-the-guess button are on screen without
scrolling; banners never move the photo; the pages fit the width and their tables scroll inside their cards.
"""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.checks import assert_no_horizontal_overflow, assert_reachable
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.seed import finished_run
from tests.images import class_photo

pytestmark = pytest.mark.browser
SMALL_PHONE = {"width": 360, "height": 740}
PHONES = pytest.mark.parametrize("viewport", [PHONE, SMALL_PHONE], ids=["390x844", "360x740"])
WIDTH = PHONE["width"]
MENU = ("#nav-upload", "#nav-label", "#nav-train", "#nav-gallery", "#nav-settings", "#logout-button")
MANY_CLASSES = ["beer", "wings", "chicken nuggets", "french fries", "onion rings"]


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


def assert_on_screen(page, selector: str) -> list[dict]:
    """Every element matching selector lies wholly inside the viewport as it is (no scrolling)."""
    size = page.viewport_size
    boxes = [item.bounding_box() for item in page.locator(selector).all()]
    assert boxes, f"nothing matches {selector}"
    for i, box in enumerate(boxes):
        assert box, f"{selector} #{i} is not rendered"
        inside = box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 0.5
        inside = inside and box["y"] >= 0 and box["y"] + box["height"] <= size["height"] + 0.5
        assert inside, f"{selector} #{i} is not wholly on a {size['width']} x {size['height']} screen: {box}"
    return boxes


def swipe(page, selector: str, dx: float) -> None:
    """A one-finger swipe across the element, sent as real touch input (the page sees pointer events).

    The events carry times as a thumb makes them (0.3 s across, then still before lifting): sent all at
    once they look like a fling to Chromium, and a tap that follows only stops the fling instead of clicking.
    """
    box = page.locator(selector).bounding_box()
    x0, y = box["x"] + box["width"] / 2 - dx / 2, box["y"] + box["height"] / 2
    moves = [(x0 + dx * step / 10, y + step, step * 0.03) for step in range(1, 11)]  # never quite straight
    moves += [(x0 + dx, y + 10, 0.3 + rest * 0.05) for rest in range(1, 4)]
    start = time.time()
    cdp = page.context.new_cdp_session(page)
    try:
        touch = {"type": "touchStart", "touchPoints": [{"x": x0, "y": y}], "timestamp": start}
        cdp.send("Input.dispatchTouchEvent", touch)
        for x, yy, at in moves:
            touch = {"type": "touchMove", "touchPoints": [{"x": x, "y": yy}], "timestamp": start + at}
            cdp.send("Input.dispatchTouchEvent", touch)
        lift = {"type": "touchEnd", "touchPoints": [], "timestamp": start + 0.5}
        cdp.send("Input.dispatchTouchEvent", lift)
    finally:
        cdp.detach()


def open_menu(page) -> None:
    """Phones show the links behind the header's Menu button."""
    page.tap("#nav-toggle")
    expect(page.locator("#nav-toggle")).to_have_attribute("aria-expanded", "true")


def test_phone_upload_and_label(browse):
    page = browse.goto("/")
    assert page.evaluate("matchMedia('(hover: none) and (pointer: coarse)').matches")
    assert_no_horizontal_overflow(page, WIDTH)
    # The header is one compact row; its links open from the Menu button.
    header = page.locator(".site-header").bounding_box()
    assert header["height"] <= 64, f"the header takes {header['height']} px on a phone"
    expect(page.locator("#nav-label")).to_be_hidden()
    open_menu(page)
    for link in MENU:
        expect(page.locator(link)).to_be_visible()
    browse.shot("menu open", full_page=False)
    page.keyboard.press("Escape")
    expect(page.locator("#nav-label")).to_be_hidden()
    # The page leads with two big buttons; the drop zone and the QR panel (for computers) are not shown.
    for button in ("#camera-button", "#library-button"):
        assert_on_screen(page, button)
        assert_reachable(page, button, min_height=80)
    expect(page.locator("#camera-input")).to_have_attribute("capture", "environment")
    expect(page.locator("#dropzone")).to_be_hidden()
    expect(page.locator("#phone-panel")).to_be_hidden()
    browse.shot("upload page", full_page=False)

    # The camera button opens the camera's picker, one photo at a time.
    with page.expect_file_chooser() as chooser:
        page.tap("#camera-button")
    assert not chooser.value.is_multiple()
    chooser.value.set_files([browse.write("IMG_0001.jpg", class_photo(0, 99))])
    expect(page.locator("#upload-summary")).to_have_text("1 of 1 done · 1 stored")

    # The library takes several at once; phone-style long file names wrap, not widen the page.
    photos = {}
    for i in range(12):
        cls = "beer" if i % 2 == 0 else "wings"
        photos[f"IMG_20240612_18304{i % 10}_{cls}_{i:02d}_HDR_portrait.jpg"] = class_photo(i % 2, i)
    with page.expect_file_chooser() as chooser:
        page.tap("#library-button")
    assert chooser.value.is_multiple()
    chooser.value.set_files([browse.write(n, d) for n, d in photos.items()])
    expect(page.locator("#upload-summary")).to_have_text("13 of 13 done · 13 stored")
    # After picking photos on a phone, the progress shows without scrolling, and stays while the rows scroll.
    assert_on_screen(page, "#upload-summary")
    expect(page.locator("#upload-list .upload-row .bar")).to_have_count(13)
    page.tap("#upload-details > summary")  # every file's row is folded under the summary
    page.locator("#upload-list .upload-row").last.scroll_into_view_if_needed()
    assert_on_screen(page, "#upload-summary")
    assert_no_horizontal_overflow(page, WIDTH)
    browse.shot("uploaded", full_page=False)
    browse.shot("uploaded full page")
    assert_reachable(page, "#go-label")

    # Label by tapping the class buttons.
    page.tap("#go-label")
    expect(page.locator("#label-position")).to_have_text("1 / 13")
    page.tap("#next-button")  # the camera photo
    page.wait_for_function("() => document.getElementById('label-image').complete")
    assert_no_horizontal_overflow(page, WIDTH)
    beers = 0  # the walk's order is the order the parallel uploads were stored in
    for position in range(2, 8):
        expect(page.locator("#label-position")).to_have_text(f"{position} / 13")
        name = page.locator("#label-image").get_attribute("alt").removeprefix("Photo ")
        cls = "beer" if "_beer_" in name else "wings"
        beers += cls == "beer"
        page.locator(f'.class-button[data-class="{cls}"]').tap()
        expect(page.locator("#save-status")).to_have_text(re.compile(rf"^Saved: #\d+ is “{cls}”$"))
        # The confirmation toast must not sit on top of the buttons the next tap goes to.
        assert_toasts_leave_free(page, ".class-button, .nav-buttons button")
    expect(page.locator("#label-position")).to_have_text("8 / 13")
    # The class buttons count the photos (the count bar is not shown while labeling on a phone).
    expect(page.locator('.class-button[data-class="beer"]')).to_have_attribute("data-count", str(beers))
    browse.shot("labeled six", full_page=False)
    page.tap("#next-button")
    expect(page.locator("#label-position")).to_have_text("9 / 13")
    page.tap("#prev-button")
    expect(page.locator("#label-position")).to_have_text("8 / 13")

    labeled = {p["filename"]: p["label"] for p in browse.photos() if p["label"]}
    assert len(labeled) == 6
    assert all(("_beer_" in n) == (label == "beer") for n, label in labeled.items())

    # The other pages fit the width; the Train button is reachable and big enough to tap.
    for path in ("/train", "/photos", "/classes", "/gallery", "/settings"):
        page = browse.goto(path)
        assert_no_horizontal_overflow(page, WIDTH)
        browse.shot(f"{path.strip('/')} page", full_page=False)
    page = browse.goto("/train")
    assert_reachable(page, "#train-button")
    page.tap("#advanced > summary")
    expect(page.locator("#epochs")).to_be_visible()
    assert_no_horizontal_overflow(page, WIDTH)
    browse.shot("train advanced")


def guess_in(filename: str) -> str:
    return "beer" if "beer" in filename else "wings"


def photo_top(page) -> float:
    return page.locator("#label-stage").bounding_box()["y"]


def assert_banners_leave_the_photo(page) -> None:
    """No banner above the photo mid-labeling: the imbalance warning waits for the end of the pass (and for
    Train), the backbone note sits in the photo's detail line."""
    expect(page.locator("#backbone-banner")).to_have_count(0)
    expect(page.locator("main .banner:visible, .status-strip .banner")).to_have_count(0)
    expect(page.locator("#label-done-imbalance")).to_be_hidden()


@PHONES
def test_labeling_fits_the_screen_with_the_guess_under_the_thumb(browse, viewport):
    size = f"{viewport['width']}x{viewport['height']}"
    # Unbalanced on purpose (4 beer, 1 wings labeled): the imbalance warning is on.
    labeled = {f"x_beer_{i}.jpg": class_photo(0, i) for i in range(4)} | {"x_wings_0.jpg": class_photo(1, 0)}
    stored = []
    for name, data in labeled.items():
        stored += browse.upload({name: data}, label=name.split("_")[1])
    tall = {"tall_beer.jpg": class_photo(0, 30, size=(480, 640)), "wide_wings.jpg": class_photo(1, 31)}
    stored += browse.upload(tall)
    # The model guesses every photo (so the worker has none left to predict with its model file).
    finished_run(browse.live, ["beer", "wings"], {r["photo"]["id"]: guess_in(r["filename"]) for r in stored})
    assert browse.get("/api/v1/dataset")["imbalance"]["warning"]

    page = browse.goto("/label")
    expect(page.locator("#label-position")).to_have_text("1 / 2")
    expect(page.locator("#label-image")).to_have_attribute("alt", "Photo tall_beer.jpg")
    page.wait_for_function("() => document.getElementById('label-image').complete")
    expect(page.locator("#accept-button")).to_have_text("Accept “beer”", use_inner_text=True)
    assert page.evaluate("window.scrollY") == 0
    # The whole photo, the class buttons, the accept button and the Next button: on screen, no scrolling.
    assert_on_screen(page, "#label-image, .class-button, #accept-button, #next-button, #prev-button")
    assert page.evaluate("document.documentElement.scrollHeight") <= viewport["height"], "the page scrolls"
    image = page.locator("#label-image").bounding_box()
    assert image["height"] >= viewport["height"] * 0.4, f"the photo gets only {image['height']} px"
    # The accept button is within thumb reach: in the bottom third of the screen, and big enough to tap.
    accept = page.locator("#accept-button").bounding_box()
    assert accept["y"] >= viewport["height"] * 2 / 3 and accept["height"] >= 44, accept
    header = page.locator(".site-header").bounding_box()
    assert header["height"] <= 64, f"the header takes {header['height']} px"
    # No keyboard on a phone: no shortcut table, no "(Enter)".
    expect(page.locator("#shortcuts-help")).to_be_hidden()
    expect(page.locator(".shortcuts-heading")).to_be_hidden()
    expect(page.locator("#backbone-note")).to_be_visible()
    assert_no_horizontal_overflow(page, viewport["width"])
    browse.shot(f"label {size}", full_page=False)
    assert_banners_leave_the_photo(page)

    # Swipe left: the next photo; swipe right: back. A short or vertical move is no swipe.
    swipe(page, "#label-stage", -160)
    expect(page.locator("#label-position")).to_have_text("2 / 2")
    expect(page.locator("#accept-button")).to_have_text("Accept “wings”", use_inner_text=True)
    page.wait_for_function("() => document.getElementById('label-image').complete")
    assert_on_screen(page, "#label-image, .class-button, #accept-button")
    browse.shot(f"label {size} wide photo", full_page=False)
    swipe(page, "#label-stage", 20)
    expect(page.locator("#label-position")).to_have_text("2 / 2")
    swipe(page, "#label-stage", 160)
    expect(page.locator("#label-position")).to_have_text("1 / 2")

    # Accept the guess with the thumb: saved, and the next photo shows.
    page.tap("#accept-button")
    expect(page.locator("#save-status")).to_have_text(re.compile(r"^Saved: #\d+ is “beer”$"))
    expect(page.locator("#label-position")).to_have_text("2 / 2")
    assert_toasts_leave_free(page, ".class-button, .nav-buttons button, #accept-button")
    browse.shot(f"label {size} accepted", full_page=False)
    assert browse.get("/api/v1/photos?label=beer")["total"] == 5

    # The same page on a computer: the warning still leaves the photo where it is.
    page.set_viewport_size(DESKTOP)
    assert_banners_leave_the_photo(page)
    browse.shot("label desktop", full_page=False)


def assert_cells_readable(page, table: str) -> None:
    """No cell of the table cuts its text; the table scrolls inside its card, never the page."""
    clipped = page.locator(f"{table} th, {table} td").evaluate_all(
        "(cells) => cells.filter((c) => c.clientWidth > 1 && c.scrollWidth > c.clientWidth + 1)"
        ".map((c) => c.textContent.trim())"
    )
    assert not clipped, f"cells of {table} cut their text: {clipped}"
    holder = page.locator(f"{table}").evaluate(
        "(t) => { const s = t.closest('.table-scroll'); const c = t.closest('.card');"
        " const r = (e) => e.getBoundingClientRect();"
        " return s && c && r(s).left >= r(c).left && r(s).right <= r(c).right; }"
    )
    assert holder, f"{table} is not in a scrolling box inside its card"


@PHONES
def test_gallery_and_run_pages_fit_the_width(browse, viewport):
    width = viewport["width"]
    for cls in MANY_CLASSES[2:]:
        browse.api("POST", "/api/v1/classes", {"name": cls})
    stored = browse.upload({f"photo_{i}.jpg": class_photo(i % 5, i) for i in range(6)})
    guesses = {r["photo"]["id"]: MANY_CLASSES[i % 5] for i, r in enumerate(stored)}
    run_id = finished_run(browse.live, MANY_CLASSES, guesses)

    page = browse.goto(f"/runs/{run_id}")
    expect(page.locator("#run-status")).to_have_text("succeeded")
    expect(page.locator("#confusion-matrix td.cell")).to_have_count(25)
    assert_no_horizontal_overflow(page, width)
    for table in ("#per-class-table", "#confusion-matrix"):
        assert_cells_readable(page, table)
    page.locator("#confusion-matrix").scroll_into_view_if_needed()
    browse.shot(f"run {width}", full_page=False)
    browse.shot(f"run {width} full page")

    page = browse.goto("/train")
    expect(page.locator("#runs-rows .run-row")).to_have_count(1)
    assert_no_horizontal_overflow(page, width)
    assert_cells_readable(page, "#runs-table")
    page.locator("#runs-table").scroll_into_view_if_needed()
    browse.shot(f"runs {width}", full_page=False)

    page = browse.goto(f"/gallery?run={run_id}&below=100")  # every guess (they are all 80 % sure)
    expect(page.locator("#gallery-grid .gallery-tile")).to_have_count(6)
    assert_no_horizontal_overflow(page, width)
    browse.shot(f"gallery {width}", full_page=False)
    browse.shot(f"gallery {width} full page")
