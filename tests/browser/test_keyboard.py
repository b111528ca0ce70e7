"""Keyboard only (no mouse): reach things with Tab, upload with Enter, label with keys; names for all."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.checks import assert_accessible_names
from tests.images import class_photo

pytestmark = pytest.mark.browser

PAGES = ("/", "/label", "/photos", "/classes", "/train", "/gallery")


def focused(page) -> dict:
    """What has the keyboard focus, and whether a focus ring shows on it."""
    return page.evaluate("""() => {
        const e = document.activeElement;
        const s = getComputedStyle(e);
        const r = e.getBoundingClientRect();
        return {
            id: e.id, tag: e.tagName.toLowerCase(), cls: e.className,
            text: (e.textContent || '').trim().slice(0, 40),
            ring: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none',
            inView: r.bottom > 0 && r.top < window.innerHeight && r.width > 0 && r.height > 0,
        };
    }""")


def tab_to(page, selector: str, limit: int = 60, back: bool = False) -> dict:
    """Press Tab (or Shift+Tab) until the element matching selector has the focus; it must show a ring."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate("(sel) => document.activeElement.matches(sel)", selector):
            now = focused(page)
            assert now["ring"], f"no visible focus indicator on {selector}: {now}"
            assert now["inView"], f"{selector} has the focus but is off screen: {now}"
            return now
    raise AssertionError(f"{limit} presses of Tab never reached {selector}")


def test_keyboard_only_upload_and_labeling(browse):
    page = browse.goto("/")

    # The first Tab shows the skip link; Enter on it moves to the content.
    page.keyboard.press("Tab")
    now = focused(page)
    assert "skip-link" in now["cls"] and now["inView"] and now["ring"], now
    browse.shot("skip link")

    # Upload: Tab to the drop zone, Enter opens the file chooser.
    tab_to(page, "#dropzone")
    browse.shot("dropzone focused", full_page=False)
    photos = {f"beer_{i}.jpg": class_photo(0, i) for i in range(3)} | {
        f"wings_{i}.jpg": class_photo(1, i) for i in range(3)
    }
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files([browse.write(n, d) for n, d in photos.items()])
    expect(page.locator("#upload-summary")).to_have_text("6 of 6 done · 6 stored")
    # Space opens it too (and the person may cancel).
    with page.expect_file_chooser() as chooser:
        page.keyboard.press(" ")
    chooser.value.set_files([])
    stored = {p["filename"]: p["id"] for p in browse.photos()}
    order = [name for name, _ in sorted(stored.items(), key=lambda kv: kv[1])]

    # To the label page by the keyboard: the "Label the new photos" button.
    tab_to(page, "#go-label")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/label"))
    expect(page.locator("#label-position")).to_have_text("1 / 6")
    page.keyboard.press("Tab")
    assert "skip-link" in focused(page)["cls"]
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "main"

    def expect_at(index: int, label: str | None = None):
        expect(page.locator("#label-image")).to_have_attribute("data-photo-id", str(stored[order[index]]))
        expect(page.locator("#label-position")).to_have_text(f"{index + 1} / 6")
        expect(page.locator("#label-current")).to_have_text(label or "Unlabeled")

    def key_for(index: int) -> str:
        return "1" if order[index].startswith("beer") else "2"

    def cls_of(index: int) -> str:
        return order[index].split("_")[0]

    # Number keys label and advance.
    expect_at(0)
    page.keyboard.press(key_for(0))
    expect_at(1)
    # A class button reached with Tab, pressed with Enter, then with Space: label and advance.
    now = tab_to(page, f'.class-button[data-class="{cls_of(1)}"]')
    assert now["text"].endswith(cls_of(1))
    browse.shot("class button focused", full_page=False)
    page.keyboard.press("Enter")
    expect_at(2)
    tab_to(page, f'.class-button[data-class="{cls_of(2)}"]', back=True)
    page.keyboard.press(" ")
    expect_at(3)
    # Keys still work while a button has the focus: arrows, 0 unlabels, z undoes.
    page.keyboard.press("ArrowLeft")
    expect_at(2, cls_of(2))
    page.keyboard.press("0")
    expect(page.locator("#save-status")).to_have_text(f"Saved: #{stored[order[2]]} is unlabeled")
    expect_at(2)
    page.keyboard.press("z")
    expect(page.locator("#save-status")).to_have_text(f"Undone: #{stored[order[2]]} is “{cls_of(2)}” again")
    expect_at(2, cls_of(2))
    page.keyboard.press("ArrowRight")
    expect_at(3)
    # The Next button by Enter, the Prev button by Enter.
    tab_to(page, "#next-button")
    page.keyboard.press("Enter")
    expect_at(4)
    tab_to(page, "#prev-button", back=True)
    page.keyboard.press("Enter")
    expect_at(3)
    for index in (3, 4, 5):
        expect(page.locator("#label-position")).to_have_text(f"{index + 1} / 6")
        page.keyboard.press(key_for(index))
        expect(page.locator("#save-status")).to_have_text(
            f"Saved: #{stored[order[index]]} is “{cls_of(index)}”"
        )
    expect(page.locator("#label-done")).to_be_visible()
    browse.shot("all labeled")
    assert {p["filename"]: p["label"] for p in browse.photos()} == {n: n.split("_")[0] for n in photos}

    # The filter is a select: reach it with Tab, change it with the arrow keys, and keys then walk that list.
    tab_to(page, "#label-filter", back=True)
    page.keyboard.press("ArrowDown")
    expect(page.locator("#label-filter")).to_have_value("all")
    expect(page.locator("#label-position")).to_have_text("1 / 6")
    expect_at(0, cls_of(0))
    # A digit typed while the select has the focus does not label the photo.
    page.keyboard.press("2" if key_for(0) == "1" else "1")
    expect_at(0, cls_of(0))
    browse.shot("filter by keyboard")

    # The Train page by keyboard: Tab to the nav link, Enter; the Train button is reachable.
    tab_to(page, "#nav-train", back=True)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/train$"))
    tab_to(page, "#advanced > summary")
    page.keyboard.press("Enter")
    expect(page.locator("#epochs")).to_be_visible()
    tab_to(page, "#epochs")
    tab_to(page, "#train-button")
    browse.shot("train button focused", full_page=False)


def test_names_for_images_and_controls(browse):
    """Every page: <html lang>, one <h1>, images with alt text, labeled controls, named buttons and links."""
    browse.upload({"beer.jpg": class_photo(0, 1), "wings.jpg": class_photo(1, 1)}, label=None)
    for path in PAGES:
        page = browse.goto(path)
        assert page.evaluate("document.documentElement.lang") == "en"
        expect(page.locator("h1")).to_have_count(1)
        assert page.title().endswith("Photo Trainer")
        assert_accessible_names(page)
        browse.shot(path.strip("/") or "upload")
    # Pages whose images appear later: the label photo, the photo grid's tiles.
    page = browse.goto("/label")
    expect(page.locator("#label-image")).to_have_attribute("alt", re.compile(r"\S"))
    assert_accessible_names(page)
    page = browse.goto("/photos")
    expect(page.locator("#photo-grid .photo-tile")).to_have_count(2)
    assert_accessible_names(page)
    browse.shot("photos with tiles")
