"""Instant suggestions in the pages, with the real worker: Enter accepts one on an unlabeled photo and never
replaces a person's label; the Photos page accepts the sure ones in bulk and undoes that."""

import pytest
from playwright.sync_api import expect

from tests.browser.seed import _in_app
from tests.images import class_photo
from tests.live import wait_until

pytestmark = pytest.mark.browser
WIDE = {"width": 1366, "height": 900}


@pytest.fixture
def viewport():
    """The size the issue's screenshots are looked at."""
    return WIDE


def suggestions_after(browse, labeled: int) -> dict:
    """The suggestion summary once the worker's round has seen this many labels."""
    return wait_until(
        lambda: (
            (s := browse.get("/api/v1/suggestions"))["state"]["labeled"] == labeled
            and s["state"]["status"] == "ready"
            and s
        ),
        120,
        f"no suggestion round with {labeled} labels",
    )


def seeded(browse) -> dict[str, int]:
    """Four beer and four wings photos, two of each labeled; the worker's suggestions ready. Ids by name."""
    files = {f"beer_{i}.jpg": class_photo(0, i) for i in range(4)}
    files.update({f"wings_{i}.jpg": class_photo(1, i) for i in range(4)})
    ids = {r["photo"]["filename"][:-4]: r["photo"]["id"] for r in browse.upload(files)}
    for name in ("beer_0", "beer_1", "wings_0", "wings_1"):
        browse.api("PATCH", f"/api/v1/photos/{ids[name]}", {"label": name.split("_")[0]})
    suggestions_after(browse, 4)
    return ids


def suggest(browse, photo_id: int, label: str, confidence: float) -> None:
    """Write a suggestion row as the worker's job would (a disagreement the real model may not make)."""
    from webapp.db.models import Suggestion

    def work(db):
        row = db.session.get(Suggestion, photo_id)
        row.label, row.confidence = label, confidence
        db.session.commit()

    _in_app(browse.live, work)


def test_enter_accepts_a_suggestion_and_never_replaces_a_label(browse):
    ids = seeded(browse)
    page = browse.goto("/label")
    first = page.locator("#label-image")
    expect(first).to_have_attribute("data-photo-id", str(ids["beer_2"]))
    guess = browse.get(f"/api/v1/photos/{ids['beer_2']}")["suggestion"]
    box = page.locator("#prediction")
    expect(box).to_be_visible()
    expect(box).to_contain_text(f"Suggestion: {guess['label']}? {round(guess['confidence'] * 100)} %")
    expect(page.locator("#accept-button")).to_have_text(f"Accept “{guess['label']}” (Enter)")
    browse.shot("suggestion shown")
    page.keyboard.press("Enter")
    expect(page.locator("#save-status")).to_have_text(f"Saved: #{ids['beer_2']} is “{guess['label']}”")
    expect(first).to_have_attribute("data-photo-id", str(ids["beer_3"]))
    assert browse.get(f"/api/v1/photos/{ids['beer_2']}")["label"] == guess["label"]
    expect(page.locator("#suggest-rate")).to_have_text("Suggestions accepted unchanged: 1 of 1 (100 %).")

    # A labeled photo whose suggestion disagrees: shown, but Enter leaves the person's label alone.
    suggestions_after(browse, 5)
    suggest(browse, ids["beer_0"], "wings", 0.7)
    page = browse.goto(f"/label?filter=all&photo={ids['beer_0']}")
    expect(page.locator("#label-current")).to_have_text("beer")
    expect(box).to_contain_text("Suggestion: wings? 70 %, labeled “beer”")
    expect(page.locator("#accept-button")).to_have_text("Change to “wings”")
    browse.shot("disagreement")
    page.keyboard.press("Enter")
    expect(page.locator("#save-status")).to_contain_text("Enter never replaces a label")
    expect(page.locator("#label-current")).to_have_text("beer")
    assert browse.get(f"/api/v1/photos/{ids['beer_0']}")["label"] == "beer"
    # Only the explicit choice changes it.
    page.click("#accept-button")
    expect(page.locator("#save-status")).to_have_text(f"Saved: #{ids['beer_0']} is “wings”")
    assert browse.get(f"/api/v1/photos/{ids['beer_0']}")["label"] == "wings"


def test_bulk_accept_on_the_photos_page_and_undo(browse):
    ids = seeded(browse)
    page = browse.goto("/photos")
    bar = page.locator("#suggest-bar")
    expect(bar).to_be_visible()
    unlabeled = [ids[n] for n in ("beer_2", "beer_3", "wings_2", "wings_3")]
    tile = page.locator(f'.photo-tile[data-photo-id="{ids["beer_2"]}"] .tile-guess')
    expect(tile).to_contain_text("?")
    page.select_option("#suggest-threshold", "0.5")
    expect(page.locator("#suggest-accept")).to_have_text("Accept 4 photos")
    browse.shot("before bulk accept")
    guesses = {i: browse.get(f"/api/v1/photos/{i}")["suggestion"]["label"] for i in unlabeled}
    page.click("#suggest-accept")
    expect(page.locator("#suggest-done")).to_contain_text("Labeled 4 photos as their suggestions said.")
    after = {p["id"]: p["label"] for p in browse.photos()}
    assert {i: after[i] for i in unlabeled} == guesses
    assert after[ids["beer_0"]] == "beer" and after[ids["wings_0"]] == "wings"  # people's labels stay
    chip = page.locator(f'.photo-tile[data-photo-id="{ids["beer_2"]}"] .chip')
    expect(chip).to_have_text(guesses[ids["beer_2"]])
    browse.shot("after bulk accept")
    page.click("#suggest-undo")
    expect(page.locator("#suggest-done")).to_be_hidden()
    expect(page.locator(".toast-success")).to_contain_text("Undone: 4 photos unlabeled again")
    restored = {p["id"]: p["label"] for p in browse.photos()}
    assert all(restored[i] is None for i in unlabeled)
    assert restored[ids["beer_0"]] == "beer"
    expect(chip).to_have_text("unlabeled")
    browse.shot("after undo")


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}])
def test_the_suggestion_fits_a_phone(browse):
    ids = seeded(browse)
    page = browse.goto("/label")
    expect(page.locator("#label-image")).to_have_attribute("data-photo-id", str(ids["beer_2"]))
    expect(page.locator("#accept-button")).to_be_in_viewport()
    browse.shot("label phone", full_page=False)
    page = browse.goto("/photos")
    expect(page.locator("#suggest-bar")).to_be_visible()
    browse.shot("photos phone")
