"""Checks the browser tests share: accessible names of images and form controls, layout on small screens."""

from __future__ import annotations

from playwright.sync_api import Page

# Every <img> needs an alt attribute. It may be empty only when the image is decoration next to text that
# names the same thing (the brand logo inside the "Photo Trainer" link), or while hidden with no picture.
_IMAGES_WITHOUT_ALT = """() => Array.from(document.querySelectorAll('img')).filter((img) => {
    const alt = img.getAttribute('alt');
    if (alt === null) return true;
    if (alt.trim()) return false;
    if (img.hidden && !img.getAttribute('src')) return false;
    const holder = img.closest('a, button');
    return !(holder && holder.textContent.trim());
}).map((img) => img.outerHTML.slice(0, 160))"""

_CONTROLS_WITHOUT_LABEL = """() => Array.from(document.querySelectorAll('input, select, textarea'))
    .filter((c) => c.type !== 'hidden')
    .filter((c) => {
        const byLabel = c.labels && Array.from(c.labels).some((l) => l.textContent.trim());
        const aria = (c.getAttribute('aria-label') || '').trim();
        const ids = (c.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
        const byIds = ids.some((id) => (document.getElementById(id)?.textContent || '').trim());
        return !(byLabel || aria || byIds);
    })
    .map((c) => c.outerHTML.slice(0, 160))"""

_BUTTONS_WITHOUT_NAME = """() => Array.from(document.querySelectorAll('button, a[href], [role=button]'))
    .filter((b) => !(b.textContent.trim() || (b.getAttribute('aria-label') || '').trim()
                     || (b.getAttribute('title') || '').trim()
                     || (b.getAttribute('aria-labelledby') || '').trim()))
    .map((b) => b.outerHTML.slice(0, 160))"""


def assert_accessible_names(page: Page) -> None:
    """Images have alt text; inputs, selects and textareas have a label; buttons and links have a name."""
    where = page.url
    images = page.evaluate(_IMAGES_WITHOUT_ALT)
    assert not images, f"images without alt text on {where}: {images}"
    controls = page.evaluate(_CONTROLS_WITHOUT_LABEL)
    assert not controls, f"form controls without a label on {where}: {controls}"
    buttons = page.evaluate(_BUTTONS_WITHOUT_NAME)
    assert not buttons, f"buttons or links without a name on {where}: {buttons}"


def overflowing(page: Page, width: int) -> dict:
    """The document's scroll width and the visible elements that stick out past the right edge."""
    return page.evaluate(
        """(width) => ({
            scrollWidth: document.documentElement.scrollWidth,
            bodyScrollWidth: document.body.scrollWidth,
            offenders: Array.from(document.querySelectorAll('body *')).filter((e) => {
                const r = e.getBoundingClientRect();
                if (!r.width || !r.height) return false;
                const style = getComputedStyle(e);
                if (style.visibility === 'hidden' || style.position === 'fixed') return false;
                if (e.closest('.table-scroll, .visually-hidden')) return false;
                return r.right > width + 0.5 || r.left < -0.5;
            }).slice(0, 8).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`),
        })""",
        width,
    )


def assert_no_horizontal_overflow(page: Page, width: int) -> None:
    """Nothing makes the page wider than the screen."""
    found = overflowing(page, width)
    assert found["scrollWidth"] <= width and found["bodyScrollWidth"] <= width, (
        f"{page.url} is wider than {width} px: {found}"
    )


def assert_reachable(page: Page, selector: str, min_height: float = 40) -> None:
    """Each element matching selector can be scrolled into the viewport and is a comfortable touch target."""
    viewport = page.viewport_size
    locator = page.locator(selector)
    count = locator.count()
    assert count, f"nothing matches {selector}"
    for i in range(count):
        item = locator.nth(i)
        item.scroll_into_view_if_needed()
        box = item.bounding_box()
        assert box, f"{selector} #{i} is not rendered"
        assert box["height"] >= min_height, f"{selector} #{i} is {box['height']:.0f} px tall (< {min_height})"
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 0.5, (
            f"{selector} #{i} sticks out sideways: {box}"
        )
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"] + 0.5, (
            f"{selector} #{i} cannot be scrolled fully into view: {box}"
        )
