"""The design card's whole user path in a real browser: upload, label, Train, watch, run page, gallery.

The fixture fails this test on any console error, page error, failed request or request outside the app, so
the path is also proof that every page loads only the app's own resources and runs without errors.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.checks import assert_accessible_names
from tests.browser.conftest import TRAIN_MS
from tests.images import class_photo
from tests.live import wait_until

pytestmark = pytest.mark.browser

PER_CLASS = 8
CLASSES = ("beer", "wings")
# Records every value the run page gives its <progress> bars (the page polls about once a second).
RECORD_PROGRESS = """
window.__progress = [];
new MutationObserver((records) => {
  for (const r of records) {
    const t = r.target;
    if (t.tagName !== 'PROGRESS') continue;
    window.__progress.push([t.id, Number(t.getAttribute('value')), Number(t.max)]);
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ['value', 'max'] });
"""


def tile_ids(page) -> set[int]:
    return {
        int(v)
        for v in page.locator("#gallery-grid .gallery-tile").evaluate_all(
            "(tiles) => tiles.map((t) => t.dataset.photoId)"
        )
    }


def api_ids(browse, run_id: int, query: str = "") -> set[int]:
    data = browse.get(f"/api/v1/runs/{run_id}/predictions?per_page=100&{query}")
    assert data["total"] == len(data["predictions"])
    return {p["photo_id"] for p in data["predictions"]}


def expect_tiles(page, ids: set[int]) -> None:
    """The grid settles on exactly these photos."""
    expect(page.locator("#gallery-count")).to_have_text(f"Showing {len(ids)} of {len(ids)}")
    expect(page.locator("#gallery-grid .gallery-tile")).to_have_count(len(ids))
    assert tile_ids(page) == ids


def test_upload_label_train_gallery(browse):
    page = browse.page
    page.add_init_script(RECORD_PROGRESS)

    # ---- Upload: 8 photos per class and 2 that stay unlabeled, through the file chooser. ----
    browse.goto("/")
    photos = {
        f"{cls}_{i:02d}.jpg": class_photo(k, i) for k, cls in enumerate(CLASSES) for i in range(PER_CLASS)
    }
    extras = {"extra_a.jpg": class_photo(0, 40), "extra_b.jpg": class_photo(1, 40)}
    with page.expect_file_chooser() as chooser:
        page.click("#dropzone")
    chooser.value.set_files([browse.write(n, d) for n, d in (photos | extras).items()])
    total = len(photos) + len(extras)
    expect(page.locator("#upload-summary")).to_have_text(f"{total} of {total} done · {total} stored")
    expect(page.locator("#upload-list > .upload-row[data-status=stored]")).to_have_count(total)
    assert_accessible_names(page)
    browse.shot("uploaded")

    # ---- Label with the keyboard: 1 = beer, 2 = wings, ArrowRight skips the extras. ----
    page.click("#go-label")
    expect(page.locator("#label-position")).to_have_text(f"1 / {total}")
    assert_accessible_names(page)
    browse.shot("label first photo")
    for position in range(1, total + 1):
        expect(page.locator("#label-position")).to_have_text(f"{position} / {total}")
        name = page.locator("#label-image").get_attribute("alt").removeprefix("Photo ")
        if name in extras:
            page.keyboard.press("ArrowRight")
        else:
            page.keyboard.press(str(CLASSES.index(name.split("_")[0]) + 1))
            expect(page.locator("#save-status")).to_have_text(
                re.compile(rf"^Saved: #\d+ is “{name.split('_')[0]}”$")
            )
    expect(page.locator("#label-done")).to_be_visible()
    browse.shot("labeled")
    stored = {p["filename"]: p for p in browse.photos()}
    assert {n: p["label"] for n, p in stored.items()} == {
        **{n: n.split("_")[0] for n in photos},
        **dict.fromkeys(extras),
    }

    # ---- Train: 20 epochs of batch 4 (a random backbone at 32 px needs the steps). ----
    page.click("#label-done a[href='/train']")
    expect(page.locator("#nav-train")).to_have_attribute("aria-current", "page")
    for cls in CLASSES:
        expect(page.locator(f'#dataset-summary tr[data-class="{cls}"] td').last).to_have_text(str(PER_CLASS))
    expect(page.locator("#dataset-extra")).to_contain_text("2 unlabeled photos")
    page.click("#advanced > summary")
    page.fill("#epochs", "20")
    page.fill("#batch-size", "4")
    assert_accessible_names(page)
    browse.shot("train settings")
    page.click("#train-button")
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#run-status")).to_have_text(re.compile(r"^(queued|running|succeeded)$"))
    browse.shot("run started")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TRAIN_MS)
    browse.shot("run succeeded")

    # The page showed the epochs moving: at least one value strictly between 0 and 20, and never backwards.
    epochs = [(v, m) for i, v, m in page.evaluate("window.__progress") if i == "progress-epoch"]
    shown = [v for v, m in epochs if m == 20]
    assert any(0 < v < 20 for v in shown), f"the epoch bar never showed a run in progress: {epochs}"
    assert shown == sorted(shown), f"the epoch bar went backwards: {shown}"
    run = browse.get(f"/api/v1/runs/{run_id}")
    assert run["status"] == "succeeded" and run["params"]["epochs"] == 20 and run["params"]["batch_size"] == 4
    assert len(run["progress"]["history"]) == 20

    # ---- Run page: accuracy, per-class table, confusion matrix, curves (live SVG and the saved image). ----
    expect(page.locator("#run-results")).to_be_visible()
    expect(page.locator("#run-progress")).to_be_hidden()
    metrics = run["metrics"]
    expect(page.locator("#test-accuracy")).to_have_text(f"{metrics['accuracy'] * 100:.1f}%")
    assert metrics["accuracy"] >= 0.75, f"the model did not learn the colours: {metrics}"
    for cls in CLASSES:
        row = page.locator(f'#per-class-table tbody tr[data-class="{cls}"]')
        expect(row.locator("td")).to_have_count(4)
        expect(row.locator("td").last).to_have_text(str(metrics["per_class"][cls]["support"]))
    labels, matrix = metrics["labels"], metrics["confusion_matrix"]
    cells = page.locator("#confusion-matrix td.cell")
    expect(cells).to_have_count(len(labels) ** 2)
    for i, true in enumerate(labels):
        for j, pred in enumerate(labels):
            link = page.locator(f'#confusion-matrix td[data-true="{true}"][data-pred="{pred}"] a')
            expect(link).to_have_text(str(matrix[i][j]))
    for chart in ("#chart-loss", "#chart-accuracy"):
        expect(page.locator(chart)).to_be_visible()
    # One chart: the saved curves image is a download, not a second chart.
    assert run["curves_url"], "the run has no learning-curves image"
    expect(page.locator("#curves-download-link")).to_be_visible()
    expect(page.locator("#curves-download-link")).to_have_attribute("href", run["curves_url"])
    expect(page.locator("#run-curves img")).to_have_count(0)
    saved = page.request.get(browse.url + run["curves_url"])
    assert saved.ok and saved.body()[:8] == b"\x89PNG\r\n\x1a\n", "the saved curves image is not a PNG"
    expect(page.locator("#gallery-link")).to_be_visible()
    assert_accessible_names(page)
    browse.shot("run results")

    # A confusion-matrix number leads to exactly the test photos it counts (checked at the end, so that one
    # wrong link does not hide the rest of the path).
    true, pred = labels[0], labels[0]
    page.click(f'#confusion-matrix td[data-true="{true}"][data-pred="{pred}"] a')
    page.wait_for_url(re.compile(r"/gallery\?"))
    expected = api_ids(browse, run_id, f"split=test&true_label={true}&label={pred}")
    assert len(expected) == matrix[0][0]
    expect(page.locator("#gallery-count")).to_have_text(re.compile(r"^Showing \d+ of \d+$"))
    from_matrix = tile_ids(page)
    browse.shot("gallery from confusion matrix")

    # ---- Gallery: every photo has a prediction; filters agree with the API. ----
    browse.goto(f"/gallery?run={run_id}&split=all&below=100")  # it opens on test + unlabeled, less sure
    everything = {p["id"] for p in stored.values()}
    expect_tiles(page, everything)
    expect(page.locator("#run-select")).to_have_value(str(run_id))
    tiles = page.locator("#gallery-grid .gallery-tile")
    for i in range(tiles.count()):
        tile = tiles.nth(i)
        expect(tile.locator(".pred-chip")).to_have_count(1)
        assert tile.get_attribute("data-predicted") in CLASSES
    assert_accessible_names(page)
    browse.shot("gallery")

    # A person finds a labeling mistake: a train photo the model got right gets the other label, so the model
    # is now "wrong" about it (the gallery judges against the current labels).
    preds = browse.get(f"/api/v1/runs/{run_id}/predictions?per_page=100&split=train")["predictions"]
    mistake = next(p for p in preds if p["true_label"] == p["label"])
    other = next(c for c in CLASSES if c != mistake["label"])
    browse.api("PATCH", f"/api/v1/photos/{mistake['photo_id']}", data={"label": other})
    stored = {p["filename"]: p for p in browse.photos()}
    page.check("#filter-wrong")
    wrong = api_ids(browse, run_id, "wrong=1")
    assert mistake["photo_id"] in wrong
    expect_tiles(page, wrong)
    expect(page.locator('.gallery-tile .verdict[data-verdict="right"]')).to_have_count(0)
    expect(page.locator('.gallery-tile .verdict[data-verdict="wrong"]')).to_have_count(len(wrong))
    tile = page.locator(f'.gallery-tile[data-photo-id="{mistake["photo_id"]}"]')
    expect(tile).to_have_attribute("data-predicted", mistake["label"])
    expect(tile).to_have_attribute("data-true-label", other)
    browse.shot("gallery wrong only")
    page.uncheck("#filter-wrong")
    expect_tiles(page, everything)

    for split in ("test", "val", "train"):
        page.select_option("#filter-split", split)
        ids = api_ids(browse, run_id, f"split={split}")
        assert ids == {p["id"] for p in stored.values() if p["split"] == split}
        expect_tiles(page, ids)
        for badge in page.locator("#gallery-grid .gallery-tile .badge").all_text_contents():
            assert badge == split
    browse.shot("gallery train split")
    page.select_option("#filter-split", "all")

    page.select_option("#filter-true-label", "wings")
    wings = api_ids(browse, run_id, "true_label=wings")
    assert wings == {p["id"] for p in stored.values() if p["label"] == "wings"}
    expect_tiles(page, wings)
    assert set(tiles.evaluate_all("(ts) => ts.map((t) => t.dataset.trueLabel)")) == {"wings"}
    page.select_option("#filter-label", "beer")
    expect_tiles(page, api_ids(browse, run_id, "true_label=wings&label=beer"))
    page.select_option("#filter-label", "")
    page.select_option("#filter-true-label", "")
    expect_tiles(page, everything)

    # The threshold filters: only guesses less sure than it; at 100 % every guess shows.
    page.fill("#threshold", "80")
    unsure = api_ids(browse, run_id, "below=0.8")
    shown = re.compile(rf"^Showing {len(unsure)} of {len(unsure)} guesses less sure than 80%$")
    expect(page.locator("#gallery-count")).to_have_text(shown)
    assert tile_ids(page) == unsure
    page.fill("#threshold", "100")
    expect(page.locator("#threshold-value")).to_have_text("any (all shown)")
    expect_tiles(page, everything)

    # ---- Accepting a guess on an unlabeled photo labels it: by click, then by Enter on the focused tile ----
    page.select_option("#filter-split", "unlabeled")
    unlabeled = {stored[n]["id"] for n in extras}
    expect_tiles(page, unlabeled)
    browse.shot("gallery unlabeled")
    first, second = sorted(unlabeled)
    tile = page.locator(f'.gallery-tile[data-photo-id="{first}"]')
    guess = tile.get_attribute("data-predicted")
    tile.locator(".accept-button").click()
    expect(tile).to_have_attribute("data-true-label", guess)
    expect(tile.locator(".verdict")).to_have_attribute("data-verdict", "right")
    expect(tile.locator(".accept-button")).to_have_count(0)
    assert browse.get(f"/api/v1/photos/{first}")["label"] == guess
    tile = page.locator(f'.gallery-tile[data-photo-id="{second}"]')
    guess2 = tile.get_attribute("data-predicted")
    tile.focus()
    page.keyboard.press("Enter")
    expect(tile).to_have_attribute("data-true-label", guess2)
    assert browse.get(f"/api/v1/photos/{second}")["label"] == guess2
    counts = {c: sum(1 for p in browse.photos() if p["label"] == c) for c in CLASSES}
    for cls in CLASSES:
        expect(page.locator(f'#class-bar .chip[data-class="{cls}"] .chip-count')).to_have_text(
            str(counts[cls])
        )
    expect(page.locator("#unlabeled-count .chip-count")).to_have_text("0")
    browse.shot("gallery accepted")

    # ---- A photo uploaded after training is predicted in the background by the active model. ----
    browse.goto("/")
    browse.drop_files("#dropzone", {"later.jpg": class_photo(1, 50)})
    row = page.locator('#upload-list > .upload-row[data-filename="later.jpg"]')
    expect(row).to_have_attribute("data-status", "stored")
    later = browse.get("/api/v1/photos?per_page=100")["photos"]
    later_id = next(p["id"] for p in later if p["filename"] == "later.jpg")
    wait_until(
        lambda: later_id in api_ids(browse, run_id, "unlabeled=1"),
        60,
        "the new photo was not predicted in the background",
    )
    browse.goto(f"/gallery?run={run_id}&split=unlabeled")
    expect_tiles(page, {later_id})
    browse.shot("gallery new photo")

    # ---- Try a photo without storing it. ----
    with page.expect_file_chooser() as chooser:
        page.click("#try-dropzone")
    chooser.value.set_files(browse.write("try.jpg", class_photo(0, 60)))
    expect(page.locator("#try-result .try-result-head .chip")).to_have_text(
        re.compile(r"^(beer|wings)$"), timeout=60_000
    )
    expect(page.locator("#try-error")).to_be_hidden()
    expect(page.locator("#try-preview")).to_be_visible()
    assert_accessible_names(page)
    browse.shot("try a photo")
    assert len(browse.photos()) == total + 1, "trying a photo does not store it"

    # The confusion-matrix cell "true beer, predicted beer" counted the test photos; its link must show those.
    assert from_matrix == expected, (
        f"the confusion-matrix link shows {len(from_matrix)} photos, "
        f"the cell counts {len(expected)} test photos"
    )
