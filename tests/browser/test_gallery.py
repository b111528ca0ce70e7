"""The gallery as a new user meets it: Try-a-photo near the top (disabled until a model exists), opening on
the photos the model never trained on, a threshold that filters, and menus that fit a phone."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.seed import _in_app, metrics_for
from tests.images import class_photo

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
# name: (label, split, predicted, confidence)
PHOTOS = {
    "beer_train": ("beer", "train", "beer", 0.95),
    "wings_train": ("wings", "train", "wings", 0.97),
    "beer_test": ("beer", "test", "beer", 0.55),
    "wings_test": ("wings", "test", "wings", 0.90),
    "new_1": (None, None, "beer", 0.52),
    "new_2": (None, None, "wings", 0.60),
    "new_3": (None, None, "beer", 0.80),
    "new_4": (None, None, "wings", 0.99),
}


@pytest.fixture
def viewport():
    return {"width": 1366, "height": 900}


def seed_run(live, ids: dict[str, int]) -> int:
    """A succeeded run (the active model) with these photos' predictions."""
    from webapp.db.models import Prediction, TrainingRun, utcnow

    def work(db):
        labels = ["beer", "wings"]
        run = TrainingRun(
            status="succeeded",
            params={"epochs": 5, "batch_size": 32},
            metrics=metrics_for(labels),
            dataset={"labels": labels},
            artifacts={"model": "model.keras", "bytes": 1000},
            weights="none",
            image_size=32,
            started_at=utcnow(),
            finished_at=utcnow(),
        )
        db.session.add(run)
        db.session.flush()
        for name, (_label, _split, predicted, confidence) in PHOTOS.items():
            probs = {c: confidence if c == predicted else round(1 - confidence, 4) for c in labels}
            db.session.add(Prediction(run_id=run.id, photo_id=ids[name], label=predicted,
                                      confidence=confidence, probabilities=probs))  # fmt: skip
        db.session.commit()
        return run.id

    return _in_app(live, work)


def shown(page) -> set[int]:
    return {
        int(v)
        for v in page.locator("#gallery-grid .gallery-tile").evaluate_all(
            "(ts) => ts.map((t) => t.dataset.photoId)"
        )
    }


def test_gallery_opens_on_unseen_photos_and_filters_by_confidence(browse):
    stored = browse.upload({f"{name}.jpg": class_photo(i % 2, i) for i, name in enumerate(PHOTOS)})
    ids = {r["filename"].removesuffix(".jpg"): r["photo"]["id"] for r in stored}
    for name, (label, split, _p, _c) in PHOTOS.items():
        if label:
            browse.api("PATCH", f"/api/v1/photos/{ids[name]}", data={"label": label, "split": split})

    # ---- No model yet: Try-a-photo is near the top, disabled, and says why. ----
    page = browse.goto("/gallery")
    expect(page.locator("#gallery-no-runs")).to_be_visible()
    expect(page.locator("#try-dropzone")).to_have_attribute("aria-disabled", "true")
    expect(page.locator("#try-hint")).to_have_text(re.compile(r"^No trained model yet: train one first"))
    expect(page.locator("#try-file-input")).to_be_disabled()
    page.click("#try-dropzone", force=True)  # a click does nothing: no picker, no request
    expect(page.locator("#try-result")).to_be_hidden()
    assert page.locator("#try-photo").bounding_box()["y"] < 300
    browse.shot("gallery without a model")

    # ---- With a model: opens on test + unlabeled photos less sure than 75 % (two classes). ----
    seed_run(browse.live, ids)
    page = browse.goto("/gallery")
    expect(page.locator("#filter-split")).to_have_value("unseen")
    expect(page.locator("#threshold")).to_have_value("75")
    expect(page.locator("#gallery-count")).to_have_text("Showing 3 of 3 guesses less sure than 75%")
    assert shown(page) == {ids["beer_test"], ids["new_1"], ids["new_2"]}
    expect(page.locator("#try-dropzone")).to_have_attribute("aria-disabled", "false")
    expect(page.locator("#try-file-input")).to_be_enabled()
    try_box, grid_box = (
        page.locator("#try-photo").bounding_box(),
        page.locator("#gallery-grid").bounding_box(),
    )
    assert try_box["y"] < grid_box["y"] and try_box["y"] < 300, "Try a photo is not near the top"
    browse.shot("gallery default view")

    # The threshold filters: 100 % shows every unseen guess; "All" adds the train photos.
    page.fill("#threshold", "100")
    expect(page.locator("#gallery-count")).to_have_text("Showing 6 of 6")
    expect(page.locator("#threshold-value")).to_have_text("any (all shown)")
    page.fill("#threshold", "60")
    expect(page.locator("#gallery-count")).to_have_text("Showing 2 of 2 guesses less sure than 60%")
    assert shown(page) == {ids["beer_test"], ids["new_1"]}
    page.select_option("#filter-split", "all")
    page.select_option("#sort-select", "-confidence")  # the surest first: the filter opens up
    expect(page.locator("#gallery-count")).to_have_text("Showing 8 of 8")
    expect(page.locator("#gallery-grid .gallery-tile").first).to_have_attribute(
        "data-photo-id", str(ids["new_4"])
    )
    browse.shot("gallery all photos surest first")

    # ---- Phone: the model and sort menus fit the screen. ----
    page.set_viewport_size(PHONE)
    page = browse.goto("/gallery")
    browse.shot("gallery phone", full_page=False)
    for menu in ("#run-select", "#sort-select", "#filter-split"):
        box = page.locator(menu).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{menu} is cut off: {box}"
        fits = page.locator(menu).evaluate(
            "(s) => { const c = document.createElement('canvas').getContext('2d');"
            " c.font = getComputedStyle(s).font;"
            " return c.measureText(s.options[s.selectedIndex].text).width + 40 <= s.clientWidth; }"
        )
        assert fits, f"the chosen option of {menu} does not fit its box on a phone"
