"""Make the README's screenshot (static/img/screenshot.png) the way a user sees the app.

Draws photo-like scenes (tools/scenes.py: glasses of beer, plates of wings), starts `python -m webapp` on a
temporary instance with real MobileNetV2 weights, uploads and labels the photos (a few left unlabeled),
trains a run, then photographs the prediction gallery in Debian's Chromium at 1366 x 900.

    .venv/bin/python tools/readme_screenshot.py --weights /path/to/mobilenet_v2.weights.h5

The weights file is any MobileNetV2 (include_top=False) Keras weights file; the tests never use one.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.accounts import ADMIN, PASSWORD  # noqa: E402
from tests.live import LiveApp, app_env, wait_until  # noqa: E402
from tools.scenes import beer, both, wings  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1366, "height": 900}
DEFAULT_WEIGHTS = "/work/shared/weights/mobilenet_v2_imagenet_notop_from_coral.weights.h5"


def upload(live: LiveApp, name: str, data: bytes, label: str | None) -> None:
    """Store one photo (labeled when label is given)."""
    form = {"label": label} if label else {}
    response = live.post("/api/v1/photos", files={"files": (name, data, "image/jpeg")}, data=form)
    response.raise_for_status()
    assert response.json()["results"][0]["status"] == "stored", response.text


def train(live: LiveApp, epochs: int, timeout: float) -> dict:
    """Start a MobileNetV2 run (its defaults but the epochs) and wait until it finishes; the run."""
    response = live.post("/api/v1/runs", json={"backbone": "mobilenet_v2", "epochs": epochs})
    assert response.status_code in (201, 202), response.text
    run_id = response.json()["id"]
    started = time.monotonic()

    def finished():
        run = live.get(f"/api/v1/runs/{run_id}").json()
        return run if run["status"] in ("succeeded", "failed", "cancelled") else None

    run = wait_until(finished, timeout, "the run did not finish", interval=3)
    print(
        f"run {run_id}: {run['status']} in {time.monotonic() - started:.0f} s, metrics {run.get('metrics')}"
    )
    assert run["status"] == "succeeded", run.get("error")
    return run


def photograph(live: LiveApp, out: Path, path: str) -> None:
    """Sign in as a person does and screenshot a page, once its photos have loaded."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1, locale="en-US")
        page = context.new_page()
        page.goto(live.url + "/login")
        page.fill("#login-username", ADMIN)
        page.fill("#login-password", PASSWORD)
        with page.expect_navigation():
            page.click("#login-submit")
        page.goto(live.url + path)
        page.wait_for_load_state("networkidle")
        # Lazy images below the fold never load: wait for the ones on screen.
        page.wait_for_function(
            """() => [...document.images].filter((img) => img.getBoundingClientRect().top < innerHeight)
                .every((img) => img.complete && img.naturalWidth > 0)"""
        )
        page.wait_for_timeout(500)
        page.screenshot(path=str(out), animations="disabled", caret="initial")
        browser.close()


def main() -> None:
    """Parse the options, make the photos, train, and write the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS, help="a MobileNetV2 weights file")
    parser.add_argument("--out", type=Path, default=ROOT / "static" / "img" / "screenshot.png")
    parser.add_argument("--per-class", type=int, default=24, help="labeled photos per class")
    parser.add_argument("--unlabeled", type=int, default=6, help="photos left for the model to guess")
    parser.add_argument("--epochs", type=int, default=3, help="few: the guesses are not all 100 %%")
    parser.add_argument("--page", default="/gallery?split=all", help="the page to photograph")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds the run may take")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="screenshot-") as tmp:
        instance = Path(tmp) / "instance"
        instance.mkdir()
        extra = {
            "WEBAPP_BACKBONE_WEIGHTS": args.weights,
            "WEBAPP_IMAGE_SIZE": "224",
            "WEBAPP_BACKBONE": "mobilenet_v2",
        }
        live = LiveApp(instance, app_env(instance, **extra)).start()
        try:
            for i in range(args.per_class):
                upload(live, f"IMG_{2100 + 2 * i}.jpg", beer(i), "beer")
                upload(live, f"IMG_{2101 + 2 * i}.jpg", wings(i), "wings")
            for i in range(args.unlabeled):  # a beer, a plate of wings, and both in one photo
                scene = (beer, wings, both)[i % 3]
                upload(live, f"IMG_{3000 + i}.jpg", scene(1000 + i), None)
            train(live, args.epochs, args.timeout)
            photograph(live, args.out, args.page)
            print(f"wrote {args.out}")
        finally:
            live.stop()


if __name__ == "__main__":
    main()
