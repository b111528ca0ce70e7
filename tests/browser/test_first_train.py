"""The first Train on a machine that cannot download the backbone weights, as a new user meets it.

The app uses the default setting (imagenet) with an empty Keras cache and no way out (a proxy that refuses),
so the download fails as it does offline. The Train page says the weights will be downloaded; the failed run
says why in one sentence and offers the upload; a wrong file is refused and a right one is checked, kept
and used by the next run.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.images import class_photo
from tests.live import LiveApp, app_env

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
OFFLINE = "http://127.0.0.1:9"  # nothing listens there: every download fails at once


@pytest.fixture
def viewport():
    return {"width": 1366, "height": 900}


@pytest.fixture
def live(tmp_path):
    """The app as a user starts it, with the default ImageNet setting and no internet."""
    instance = tmp_path / "instance"
    instance.mkdir()
    env = app_env(instance, WEBAPP_BACKBONE_WEIGHTS="imagenet", KERAS_HOME=str(tmp_path / "keras"))
    env.update(HTTPS_PROXY=OFFLINE, https_proxy=OFFLINE, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1")
    app = LiveApp(instance, env).start()
    yield app
    app.stop()


def vgg16_weights_file(folder) -> bytes:
    """A real VGG16 weights file (the seeded random one made for tests): it loads as ImageNet's does."""
    from webapp.ml.backbone import none_weights_path

    return none_weights_path(folder, "vgg16").read_bytes()


def upload_labeled(browse) -> None:
    for k, name in enumerate(("beer", "wings")):
        browse.upload({f"{name}_{i}.jpg": class_photo(k, i) for i in range(8)}, label=name)


def run_status(browse, run_id: int) -> str:
    return browse.get(f"/api/v1/runs/{run_id}")["status"]


def test_first_train_without_the_weights(browse, tmp_path):
    page = browse.page
    upload_labeled(browse)

    # ---- Before Train: the page says the weights will be downloaded, once, and how large they are. ----
    browse.goto("/train")
    expect(page.locator("#weights-message")).to_contain_text("downloaded once")
    expect(page.locator("#weights-message")).to_contain_text("~56 MB")
    expect(page.locator("#weights-upload")).to_be_visible()  # the fix is there before it is needed
    browse.shot("train before the first run")

    # ---- Train: the download fails; the run page says so plainly and offers the fix. ----
    page.click("#train-button")
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#run-status")).to_have_text("failed", timeout=120_000)
    expect(page.locator("#run-error-summary")).to_have_text(
        "Training could not start: the VGG16 weights could not be downloaded (no internet here?)."
    )
    expect(page.locator("#run-error-details")).not_to_have_attribute("open", "")
    expect(page.locator("#run-error")).to_be_hidden()  # the long text is folded
    expect(page.locator("#fix-weights-link")).to_be_visible()
    expect(page.locator("#train-again-button")).to_be_hidden()  # it would fail the same way
    expect(page.locator("#run-curves")).to_be_hidden()  # no "curves appear after the first epoch"
    browse.shot("failed run")
    page.click("#run-error-details > summary")
    expect(page.locator("#run-error")).to_contain_text("Could not get the ImageNet weights")
    browse.shot("failed run details")
    page.set_viewport_size(PHONE)
    browse.shot("failed run phone")
    page.set_viewport_size({"width": 1366, "height": 900})

    # ---- The fix: the Train page now says the last download failed, and takes the file. ----
    page.click("#fix-weights-link")
    page.wait_for_url(re.compile(r"/train#weights$"))
    expect(page.locator("#weights")).to_have_attribute("data-state", "failed")
    expect(page.locator("#weights-message")).to_contain_text("last download")
    expect(page.locator("#weights-error")).to_be_visible()
    expect(page.locator("#weights-download-url")).to_have_text(re.compile(r"^https://\S+/vgg16\S+notop\.h5$"))
    browse.shot("train after the failed download")

    # A wrong file (a web page saved by mistake) is refused at once, and nothing is kept.
    wrong = browse.write("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", b"<html>Sign in</html>")
    with page.expect_file_chooser() as chooser:
        page.click("#weights-upload-button")
    chooser.value.set_files(str(wrong))
    expect(page.locator("#weights-upload-status")).to_contain_text("not a Keras weights file")
    browse.watch.clear()  # its 400 answer was the point
    expect(page.locator("#weights")).to_have_attribute("data-state", "failed")
    browse.shot("wrong weights file refused")

    # The right file: received, loaded by the worker, kept.
    right = browse.write("vgg16_weights.h5", vgg16_weights_file(tmp_path / "made"))
    with page.expect_file_chooser() as chooser:
        page.click("#weights-upload-button")
    chooser.value.set_files(str(right))
    expect(page.locator("#weights")).to_have_attribute("data-state", "uploaded", timeout=120_000)
    expect(page.locator("#weights-message")).to_contain_text("uploaded ImageNet weights file")
    expect(page.locator("#weights-upload")).to_be_hidden()
    browse.shot("weights uploaded")

    # ---- Train again: the run uses the uploaded file and succeeds. ----
    page.click("#train-button")
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    second = int(page.url.rsplit("/", 1)[1])
    assert second != run_id
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=240_000)
    assert browse.get(f"/api/v1/runs/{second}")["failure"] is None
    expect(page.locator("#pin-button")).to_be_hidden()  # the active run is not offered as the active model
    browse.shot("second run succeeded")

    # ---- The Train page's disk figure agrees with the runs list (only the second run has files). ----
    page = browse.goto("/train")
    files = page.locator(f'#runs-rows .run-row[data-run-id="{second}"] td[data-label="Files"] .small')
    size = files.text_content()
    assert size.endswith("MB"), size
    expect(page.locator("#storage-summary")).to_contain_text(f"models {size} ·")
    browse.shot("train with two runs")
    page.set_viewport_size(PHONE)
    page.locator("#runs-table").scroll_into_view_if_needed()
    browse.shot("train with two runs phone", full_page=False)
