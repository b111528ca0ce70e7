"""The Train page's backbone choice: its defaults fill the settings, the run and the gallery name it."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TRAIN_MS
from tests.images import class_photo

pytestmark = pytest.mark.browser


def test_choosing_mobilenet_shows_its_defaults_and_the_run_names_it(browse):
    for k, cls in enumerate(("beer", "wings")):
        browse.upload({f"{cls}_{i}.jpg": class_photo(k, i) for i in range(6)}, label=cls)
    defaults = browse.get("/api/v1/runs/defaults")["backbones"]
    page = browse.goto("/train")
    page.click("#advanced > summary")
    expect(page.locator("#backbone")).to_have_value("vgg16")
    expect(page.locator("#defaults-text")).to_contain_text("Defaults for VGG16: 5 epochs")
    page.select_option("#backbone", "mobilenet_v2")
    mobile = defaults["mobilenet_v2"]
    expect(page.locator("#epochs")).to_have_value(str(mobile["epochs"]))
    expect(page.locator("#trainable-layers")).to_have_value(str(mobile["trainable_layers"]))
    expect(page.locator("#trainable-layers")).to_have_attribute("max", "153")
    expect(page.locator("#defaults-text")).to_contain_text("Defaults for MobileNetV2")
    expect(page.locator("#defaults-text")).to_contain_text("Adam")
    browse.shot("mobilenet defaults")
    page.select_option("#backbone", "vgg16")  # and back: VGG16's own defaults again
    expect(page.locator("#trainable-layers")).to_have_value("4")
    page.select_option("#backbone", "mobilenet_v2")
    page.fill("#batch-size", "4")
    page.click("#train-button")
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#run-params")).to_contain_text("MobileNetV2")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=TRAIN_MS)
    run = browse.get(f"/api/v1/runs/{run_id}")
    assert run["backbone"] == "mobilenet_v2" and run["params"]["batch_size"] == 4
    assert run["params"]["learning_rate"] == mobile["learning_rate"]
    browse.shot("mobilenet run")
    page = browse.goto("/train")
    expect(page.locator(f'#runs-rows .run-row[data-run-id="{run_id}"] .backbone-cell')).to_contain_text(
        "MobileNetV2"
    )
    page = browse.goto(f"/gallery?run={run_id}")
    expect(page.locator("#run-select option:checked")).to_contain_text("MobileNetV2")
