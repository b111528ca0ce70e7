"""Labeling with clicks and with the keyboard (1/2 label and advance, arrows, z undo, 0/u unlabel)."""

import re

import pytest
from playwright.sync_api import expect

from tests.images import class_photo

pytestmark = pytest.mark.browser


def expect_photo(page, photo_id: int, position: str, label: str | None = None):
    """The label page shows this photo, at this position, with this label."""
    expect(page.locator("#label-image")).to_have_attribute("data-photo-id", str(photo_id))
    expect(page.locator("#label-position")).to_have_text(position)
    expect(page.locator("#label-current")).to_have_text(label or "Unlabeled")
    for name in ("beer", "wings"):
        expect(page.locator(f'.class-button[data-class="{name}"]')).to_have_attribute(
            "aria-pressed", "true" if name == label else "false"
        )


def labels(browse) -> dict[int, str | None]:
    return {p["id"]: p["label"] for p in browse.photos()}


def test_label_with_clicks_and_keys(browse):
    names = [f"beer_{i}.jpg" for i in range(4)] + [f"wings_{i}.jpg" for i in range(4)]
    data = [class_photo(0, i) for i in range(4)] + [class_photo(1, i) for i in range(4)]
    results = browse.upload(dict(zip(names, data, strict=True)))
    ids = [r["photo"]["id"] for r in results]
    assert ids == sorted(ids)
    beer, wings = ids[:4], ids[4:]
    status = lambda: page.locator("#save-status")  # noqa: E731

    page = browse.goto("/label")
    expect(page.locator(".class-button")).to_have_count(2)
    expect(page.locator('.class-button[data-class="beer"]')).to_have_attribute("aria-keyshortcuts", "1")
    expect(page.locator('.class-button[data-class="wings"]')).to_have_attribute("aria-keyshortcuts", "2")
    expect_photo(page, beer[0], "1 / 8")
    expect(page.locator("#prev-button")).to_be_disabled()
    expect(page.locator("#undo-button")).to_be_disabled()
    expect(page.locator("#label-image")).to_have_attribute("alt", "Photo beer_0.jpg")
    browse.shot("first photo")

    # A click labels and advances.
    page.click('.class-button[data-class="beer"]')
    expect(status()).to_have_text(f"Saved: #{beer[0]} is “beer”")
    expect_photo(page, beer[1], "2 / 8")
    expect(page.locator('#class-bar .chip[data-class="beer"] .chip-count')).to_have_text("1")
    browse.shot("labeled by click")

    # Key 1 labels "beer" and advances.
    page.keyboard.press("1")
    expect(status()).to_have_text(f"Saved: #{beer[1]} is “beer”")
    expect_photo(page, beer[2], "3 / 8")

    # A wrong key, then z undoes it and goes back to that photo.
    page.keyboard.press("2")
    expect(status()).to_have_text(f"Saved: #{beer[2]} is “wings”")
    expect_photo(page, beer[3], "4 / 8")
    page.keyboard.press("z")
    expect(status()).to_have_text(f"Undone: #{beer[2]} is unlabeled again")
    expect_photo(page, beer[2], "3 / 8")
    browse.shot("after undo")
    assert labels(browse)[beer[2]] is None
    page.keyboard.press("1")
    expect(status()).to_have_text(f"Saved: #{beer[2]} is “beer”")
    expect_photo(page, beer[3], "4 / 8")

    # Arrows move without labeling; the current label shows.
    page.keyboard.press("ArrowLeft")
    expect_photo(page, beer[2], "3 / 8", "beer")
    page.keyboard.press("ArrowLeft")
    expect_photo(page, beer[1], "2 / 8", "beer")
    # 0 unlabels and stays; u on an unlabeled photo changes nothing; 1 labels it again and advances.
    page.keyboard.press("0")
    expect(status()).to_have_text(f"Saved: #{beer[1]} is unlabeled")
    expect_photo(page, beer[1], "2 / 8")
    page.keyboard.press("u")
    expect(status()).to_have_text(f"#{beer[1]} is already unlabeled")
    assert labels(browse)[beer[1]] is None
    page.keyboard.press("1")
    expect(status()).to_have_text(f"Saved: #{beer[1]} is “beer”")
    expect_photo(page, beer[2], "3 / 8", "beer")
    page.keyboard.press("ArrowRight")
    expect_photo(page, beer[3], "4 / 8")

    # Keys typed into a form control do not label: the filter select keeps its keys.
    page.focus("#label-order")
    page.keyboard.press("2")
    expect_photo(page, beer[3], "4 / 8")
    page.locator("#label-order").blur()

    # Buttons: Next / Prev by click, label with the keyboard and the mouse mixed.
    page.keyboard.press("1")
    expect_photo(page, wings[0], "5 / 8")
    page.click("#next-button")
    expect_photo(page, wings[1], "6 / 8")
    page.click("#prev-button")
    expect_photo(page, wings[0], "5 / 8")
    page.keyboard.press("2")
    expect_photo(page, wings[1], "6 / 8")
    page.click('.class-button[data-class="wings"]')
    expect_photo(page, wings[2], "7 / 8")
    page.keyboard.press("2")
    expect_photo(page, wings[3], "8 / 8")
    page.keyboard.press("2")
    expect(status()).to_have_text(f"Saved: #{wings[3]} is “wings”")
    expect(page.locator("#label-done")).to_be_visible()
    done_text = page.locator("#label-done-text").text_content()
    done_meta = page.locator("#label-current").text_content().strip()
    expect(page.locator("#label-position")).to_have_text("8 / 8")
    browse.shot("end of list")

    # Back from the end, U unlabels (and stays), the Unlabel button is a no-op then, 2 relabels.
    page.keyboard.press("ArrowLeft")
    expect_photo(page, wings[3], "8 / 8", "wings")
    page.keyboard.press("U")
    expect(status()).to_have_text(f"Saved: #{wings[3]} is unlabeled")
    expect_photo(page, wings[3], "8 / 8")
    assert labels(browse)[wings[3]] is None
    page.keyboard.press("2")
    expect(status()).to_have_text(f"Saved: #{wings[3]} is “wings”")
    expect(page.locator("#label-done")).to_be_visible()
    # The Unlabel button by click on an earlier photo, then z undoes that too.
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect_photo(page, wings[2], "7 / 8", "wings")
    page.click("#unlabel-button")
    expect(status()).to_have_text(f"Saved: #{wings[2]} is unlabeled")
    expect_photo(page, wings[2], "7 / 8")
    page.click("#undo-button")
    expect(status()).to_have_text(f"Undone: #{wings[2]} is “wings” again")
    expect_photo(page, wings[2], "7 / 8", "wings")
    browse.shot("undo by button")

    # Saved on the server: what the page said is what the API has, and the count bar agrees.
    assert labels(browse) == {**dict.fromkeys(beer, "beer"), **dict.fromkeys(wings, "wings")}
    expect(page.locator('#class-bar .chip[data-class="beer"] .chip-count')).to_have_text("4")
    expect(page.locator('#class-bar .chip[data-class="wings"] .chip-count')).to_have_text("4")
    expect(page.locator("#unlabeled-count .chip-count")).to_have_text("0")

    # A reload of the unlabeled list says there is nothing left and offers the next step.
    page = browse.goto("/label?filter=unlabeled")
    expect(page.locator("#label-empty")).to_have_text(re.compile(r"^All 8 photos are labeled"))
    expect(page.locator("#label-position")).to_have_text("0 / 0")
    browse.shot("nothing left")
    # The class filter walks one class, with its labels shown.
    page.select_option("#label-filter", "label:wings")
    expect_photo(page, wings[0], "1 / 4", "wings")
    browse.shot("class filter")

    # The end-of-list banner counted photos, not key presses: 8 photos were labeled (one of them twice after
    # a wrong key and an undo, another unlabeled and labeled again).
    assert done_text.strip() == "8 photos labeled in this session."
    # Past the last photo no photo is shown, so the line under the stage must not say "Unlabeled" (stale, from
    # before the last photo was labeled).
    assert done_meta in ("", "wings"), f"the end-of-list screen says the last photo is {done_meta!r}"


def test_fast_typing_on_a_slow_connection_loses_no_label(browse):
    """A person who knows the photos types a key per photo faster than the server answers (a phone network):
    every key press must end up as a saved label, none may be dropped silently."""
    names = [f"beer_{i}.jpg" for i in range(3)] + [f"wings_{i}.jpg" for i in range(3)]
    data = [class_photo(0, i) for i in range(3)] + [class_photo(1, i) for i in range(3)]
    results = browse.upload(dict(zip(names, data, strict=True)))
    ids = [r["photo"]["id"] for r in results]
    page = browse.goto("/label")
    expect(page.locator("#label-image")).to_have_attribute("data-photo-id", str(ids[0]))
    cdp = page.context.new_cdp_session(page)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 300, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    # Six keys, 150 ms apart (a quick but human pace), each answered 300 ms later.
    for key in "111222":
        page.keyboard.press(key)
        page.wait_for_timeout(150)
    # Six labels reach the end of the list; a page that dropped key presses never gets there.
    try:
        expect(page.locator("#label-done")).to_be_visible(timeout=15_000)
    except AssertionError:
        expect(page.locator("#save-status")).not_to_have_text("Saving…")
    browse.shot("after fast typing")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    cdp.detach()
    saved = labels(browse)
    lost = [i for i in ids if saved[i] is None]
    assert not lost, (
        f"key presses made while a label was being saved were dropped: photos {lost} stayed unlabeled "
        f"(the page shows {page.locator('#label-position').text_content()})"
    )
    assert saved == {**dict.fromkeys(ids[:3], "beer"), **dict.fromkeys(ids[3:], "wings")}
    expect(page.locator("#label-done")).to_be_visible()
