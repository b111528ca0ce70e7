"""The run page makes the TFLite file on request: a button, its progress, then the download (never a wait)."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TRAIN_MS
from tests.images import class_photo

pytestmark = pytest.mark.browser


def test_make_the_tflite_file_from_the_run_page(browse):
    for k, cls in enumerate(("beer", "wings")):
        browse.upload({f"{cls}_{i}.jpg": class_photo(k, i) for i in range(6)}, label=cls)
    run = browse.api("POST", "/api/v1/runs", data={"epochs": 3, "batch_size": 8})
    page = browse.goto(f"/runs/{run['id']}")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TRAIN_MS)
    expect(page.locator("#download-keras")).to_be_visible()
    expect(page.locator("#download-tflite")).to_be_hidden()  # not made yet: nothing to download
    expect(page.locator("#tflite-button")).to_have_text("Make the TFLite file")
    browse.shot("before the tflite file")
    page.click("#tflite-button")
    # The page polls the run while the worker converts; the button comes back only if it fails.
    expect(page.locator("#download-tflite")).to_be_visible(timeout=TRAIN_MS)
    expect(page.locator("#tflite-button")).to_be_hidden()
    expect(page.locator("#tflite-status")).to_be_hidden()
    browse.shot("tflite file ready")
    with page.expect_download() as download:
        page.click("#download-tflite")
    path = download.value.path()
    assert download.value.suggested_filename == f"run{run['id']}-model.tflite"
    assert path.read_bytes()[4:8] == b"TFL3"
    with page.expect_download() as small:
        page.click("#download-tflite-int8")
    assert small.value.suggested_filename == f"run{run['id']}-model-int8.tflite"
    assert small.value.path().read_bytes()[4:8] == b"TFL3"
    assert small.value.path().stat().st_size < path.stat().st_size / 2  # 8-bit weights
    assert any(re.search(rf"/api/v1/runs/{run['id']}/tflite$", url) for url in browse.watch.requests)
