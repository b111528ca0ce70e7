"""Every page loads only the app's own resources (CSS, JS, fonts, images) and logs no console errors."""

import pytest
from playwright.sync_api import Error

from tests.images import class_photo

pytestmark = pytest.mark.browser

PAGES = ("/", "/label", "/photos", "/classes", "/train", "/gallery")

# Every URL the document refers to: elements, stylesheets (@import, url(), @font-face) and loaded resources.
REFERENCES = """() => {
    const urls = [];
    for (const e of document.querySelectorAll('[src], [href], [srcset], [poster], [action]')) {
        for (const name of ['src', 'href', 'poster', 'action']) {
            if (e.getAttribute(name)) urls.push(e[name] || e.getAttribute(name));
        }
    }
    for (const sheet of document.styleSheets) {
        if (sheet.href) urls.push(sheet.href);
        let rules = [];
        try {
            rules = Array.from(sheet.cssRules);
        } catch (err) {
            urls.push('unreadable stylesheet: ' + sheet.href);
        }
        for (const rule of rules) {
            const base = sheet.href || location.href;
            for (const m of rule.cssText.matchAll(/url\\(["']?([^"')]+)["']?\\)/g)) {
                urls.push(new URL(m[1], base).href);
            }
            if (rule.href) urls.push(new URL(rule.href, base).href);
        }
    }
    for (const entry of performance.getEntriesByType('resource')) urls.push(entry.name);
    return urls;
}"""


def test_only_own_resources_and_no_console_errors(browse, live):
    browse.upload({"beer.jpg": class_photo(0, 1), "wings.jpg": class_photo(1, 1)})
    origin = live.url
    for path in PAGES:
        page = browse.goto(path)
        response = page.request.get(origin + path)
        csp = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp, f"{path} has no strict Content-Security-Policy: {csp!r}"
        # Styles and scripts came from the app and took effect.
        assert page.evaluate("document.styleSheets.length") >= 1
        assert page.evaluate("getComputedStyle(document.querySelector('.site-header')).display") != "inline"
        fonts = page.evaluate("Array.from(document.fonts).map((f) => [f.family, f.status])")
        assert all(status != "error" for _, status in fonts), fonts
        urls = page.evaluate(REFERENCES)
        outside = [
            u for u in urls if u.startswith(("http:", "https:", "//")) and not u.startswith(origin + "/")
        ]
        outside += [u for u in urls if u.startswith("unreadable")]
        assert not outside, f"{path} refers to things outside the app: {outside}"
        browse.shot(path.strip("/") or "upload")
    requested = set(browse.watch.requests)
    assert requested and all(u.startswith(origin + "/") for u in requested), sorted(requested)
    for asset in ("/static/css/app.css", "/static/js/base.js", "/static/js/api.js", "/static/favicon.svg"):
        assert origin + asset in requested, f"{asset} was not loaded"
    assert not browse.watch.problems(), browse.watch.problems()

    # The guard works: a request to another host is stopped and recorded (then forgiven: it is on purpose).
    probe = browse.page.context.new_page()
    with pytest.raises(Error):
        probe.goto("http://example.com/", timeout=5_000)
    probe.close()
    assert browse.watch.external == ["http://example.com/"]
    browse.watch.clear()
