"""Fixtures for the real-browser tests: Debian's Chromium, a fresh `python -m webapp` per test, a watched tab.

Every test gets its own app (temporary instance folder, real worker, CSRF on) and a browser page that
- fails the test on any console error, uncaught page error or failed request,
- aborts (and fails the test on) any request to a host other than the app's 127.0.0.1,
- writes numbered screenshots of each step to tests/screenshots/<test name>/NN-step.png (git-ignored).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.accounts import ADMIN, PASSWORD
from tests.live import ROOT, LiveApp, app_env

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "tests" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Expect timeouts (ms): pages answer fast; training at 32 px with a random backbone takes well under this.
STEP_MS = 15_000
TRAIN_MS = 180_000
# Assertions wait as long as a step may take: the machines that run these share their cores.
expect.set_options(timeout=STEP_MS)


def pytest_collection_modifyitems(items):
    """Every test in this folder drives a real browser and starts processes."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    """One headless Debian Chromium for the session (each test gets its own context)."""
    if not os.path.exists(CHROMIUM):
        reason = (
            f"{CHROMIUM} is missing: install Debian's Chromium with "
            "`apt-get update && apt-get install -y chromium` (never `playwright install`)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live(tmp_path):
    """A fresh app as a user starts it (`python -m webapp`, real worker), CSRF on, on a free loopback port."""
    instance = tmp_path / "instance"
    instance.mkdir()
    app = LiveApp(instance, app_env(instance)).start()
    yield app
    app.stop()


@dataclass
class Watch:
    """What the browser reported that a healthy page never does."""

    base: str
    console_errors: list = field(default_factory=list)
    page_errors: list = field(default_factory=list)
    failed_requests: list = field(default_factory=list)
    bad_responses: list = field(default_factory=list)
    external: list = field(default_factory=list)
    requests: list = field(default_factory=list)

    def problems(self) -> list[str]:
        """Every recorded problem as a line of text."""
        return (
            [f"console error: {m}" for m in self.console_errors]
            + [f"page error: {m}" for m in self.page_errors]
            + [f"failed request: {m}" for m in self.failed_requests]
            + [f"HTTP error: {m}" for m in self.bad_responses]
            + [f"request outside the app (aborted): {m}" for m in self.external]
        )

    def clear(self) -> None:
        for name in ("console_errors", "page_errors", "failed_requests", "bad_responses", "external"):
            getattr(self, name).clear()


def _is_local(url: str, base: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.hostname == "127.0.0.1" and f"{parts.scheme}://{parts.netloc}" == base


@dataclass
class Browse:
    """A page of the app plus helpers: screenshots, the JSON API (with the page's CSRF token), waits."""

    page: object
    live: LiveApp
    watch: Watch
    shots: Path
    files: Path
    step: int = 0

    @property
    def url(self) -> str:
        return self.live.url

    def sign_in(self, name: str = ADMIN, password: str = PASSWORD) -> None:
        """Sign in through the login form, as a person does."""
        self.page.goto(self.url + "/login")
        self.page.fill("#login-username", name)
        self.page.fill("#login-password", password)
        with self.page.expect_navigation():
            self.page.click("#login-submit")
        assert "/login" not in self.page.url, "signing in failed"

    def goto(self, path: str):
        """Open a page of the app and wait until its scripts have settled."""
        self.page.goto(self.url + path)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def shot(self, name: str, full_page: bool = True) -> Path:
        """Screenshot the page as tests/screenshots/<test>/NN-name.png."""
        self.step += 1
        path = self.shots / f"{self.step:02d}-{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
        self.page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="initial")
        return path

    # ---------- files ----------

    def write(self, name: str, data: bytes) -> Path:
        """Write bytes to a temporary file (for the file chooser)."""
        path = self.files / name
        path.write_bytes(data)
        return path

    def drop_files(self, selector: str, files: dict[str, bytes], mime: str = "image/jpeg") -> None:
        """Drop files on an element as a person does: dragenter, dragover, drop with a real DataTransfer."""
        payload = [{"name": n, "b64": base64.b64encode(d).decode(), "type": mime} for n, d in files.items()]
        transfer = self.page.evaluate_handle(
            """(files) => {
                const dt = new DataTransfer();
                for (const f of files) {
                    const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
                    dt.items.add(new File([bytes], f.name, { type: f.type }));
                }
                return dt;
            }""",
            payload,
        )
        target = self.page.locator(selector)
        for event in ("dragenter", "dragover", "drop"):
            target.dispatch_event(event, {"dataTransfer": transfer})
        transfer.dispose()

    # ---------- the JSON API, through the browser context (its cookies, the page's CSRF token) ----------

    def csrf(self) -> str:
        if not self.page.url.startswith(self.url):
            self.goto("/")
        return self.page.get_attribute('meta[name="csrf-token"]', "content")

    def api(self, method: str, path: str, data=None, multipart=None, expect: int | tuple = (200, 201, 202)):
        """Call the API as the page would; returns the parsed JSON."""
        headers = {"X-CSRFToken": self.csrf(), "Accept": "application/json"}
        kwargs = {"headers": headers}
        if multipart is not None:
            kwargs["multipart"] = multipart
        elif data is not None:
            kwargs["data"] = json.dumps(data)
            headers["Content-Type"] = "application/json"
        response = self.page.request.fetch(self.url + path, method=method, **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        assert response.status in expected, f"{method} {path}: HTTP {response.status} {response.text()[:500]}"
        return response.json()

    def get(self, path: str):
        return self.api("GET", path)

    def upload(self, files: dict[str, bytes], label: str | None = None) -> list[dict]:
        """Store photos through the API (one request per file); returns the results."""
        results = []
        for name, data in files.items():
            multipart = {"files": {"name": name, "mimeType": "image/jpeg", "buffer": data}}
            if label:
                multipart["label"] = label
            results += self.api("POST", "/api/v1/photos", multipart=multipart)["results"]
        return results

    def photos(self, **query) -> list[dict]:
        """Every photo matching the query (all pages)."""
        out, page = [], 1
        while True:
            params = "&".join(f"{k}={v}" for k, v in {**query, "page": page, "per_page": 100}.items())
            data = self.get(f"/api/v1/photos?{params}")
            out += data["photos"]
            if len(out) >= data["total"] or not data["photos"]:
                return out
            page += 1


@pytest.fixture
def viewport():
    """The window size of the test's page (override with @pytest.mark.parametrize or a local fixture)."""
    return DESKTOP


@pytest.fixture
def mobile():
    """Whether the page emulates a phone (touch, mobile viewport meta)."""
    return False


def open_browse(browser, live: LiveApp, shots: Path, files: Path, viewport: dict, mobile: bool):
    """A new browser context and page on the app, watched for errors and outside requests: (context, Browse).

    mobile: a phone (is_mobile, has_touch): the page matches (hover: none) and (pointer: coarse).
    """
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    files.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        viewport=viewport,
        device_scale_factor=1,
        is_mobile=mobile,
        has_touch=mobile,
        locale="en-US",
        timezone_id="UTC",
        service_workers="block",
    )
    context.set_default_timeout(STEP_MS)
    watch = Watch(base=live.url)

    def guard(route):
        url = route.request.url
        if _is_local(url, live.url):
            route.continue_()
        else:
            watch.external.append(url)
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    page = context.new_page()
    _watch_page(page, watch)
    return context, Browse(page=page, live=live, watch=watch, shots=shots, files=files)


def _watch_page(page, watch: Watch) -> None:
    page.on(
        "console",
        lambda m: (
            watch.console_errors.append(f"{m.text} @ {m.location.get('url')}") if m.type == "error" else None
        ),
    )
    page.on("pageerror", lambda e: watch.page_errors.append(str(e)))
    # Keep file-chooser interception on for the whole test: Playwright turns it on and off per
    # expect_file_chooser without waiting, so a chooser opened right after another could race it and be lost.
    page.on("filechooser", lambda chooser: None)
    page.on("request", lambda r: watch.requests.append(r.url))
    # net::ERR_ABORTED is the browser cancelling a request it no longer needs (the page navigated away while a
    # poll was in flight, an AbortController): not a failure of the app. Anything else is.
    page.on(
        "requestfailed",
        lambda r: (
            watch.failed_requests.append(f"{r.method} {r.url}: {r.failure}")
            if r.failure != "net::ERR_ABORTED"
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            watch.bad_responses.append(f"{r.request.method} {r.url}: HTTP {r.status}")
            if r.status >= 400
            else None
        ),
    )


def shots_dir(request, suffix: str = "") -> Path:
    """tests/screenshots/<test name><suffix>/."""
    return SCREENSHOTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name) + suffix)


@pytest.fixture
def browse(request, browser, live, tmp_path, viewport, mobile):
    """A fresh browser context and page on a fresh app, watched for errors and outside requests."""
    context, helper = open_browse(browser, live, shots_dir(request), tmp_path / "files", viewport, mobile)
    request.node._browser_watch = helper.watch
    if "signed_out" not in request.keywords:
        helper.sign_in()
    yield helper
    if getattr(request.node, "rep_call_failed", False):
        with contextlib.suppress(Exception):  # a last screenshot is best effort
            helper.shot("failure")
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail the test itself (not its teardown) when the browser saw errors or outside requests."""
    result = yield
    watch = getattr(item, "_browser_watch", None)
    if watch is not None and watch.problems():
        raise AssertionError("the browser reported problems:\n  " + "\n  ".join(watch.problems()))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember a failed call so the teardown takes a last screenshot and prints the app's log."""
    report = yield
    if report.when == "call" and report.failed:
        item.rep_call_failed = True
        live = item.funcargs.get("live")
        if live is not None:
            for name in ("web",):
                report.sections.append((f"app {name} log (tail)", live.log_text(name)[-6000:]))
    return report
