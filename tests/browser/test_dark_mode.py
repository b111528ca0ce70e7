"""Dark mode follows prefers-color-scheme with the light theme's contrast: every text that meets WCAG AA
(4.5:1 against what is behind it) in the light scheme meets it in the dark one too, on every page."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.seed import finished_run
from tests.images import class_photo

pytestmark = pytest.mark.browser
WIDE = {"width": 1366, "height": 900}
AA = 4.5

# For each visible element with its own text (or a form field): the WCAG contrast ratio of its colour (an SVG
# text's fill) against its background, found by compositing the backgrounds of it and its ancestors.
MEASURE = """() => {
  const parse = (c) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c || '');
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat(1);
  const behind = (node) => {
    const layers = [];
    for (let n = node; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c && c[3] > 0) layers.push(c);
      if (c && c[3] >= 1) break;
    }
    return layers.reverse().reduce((bg, layer) => over(layer, bg), [255, 255, 255, 1]);
  };
  const lum = (rgb) => rgb.slice(0, 3).map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }).reduce((acc, v, i) => acc + v * [0.2126, 0.7152, 0.0722][i], 0);
  const ratio = (a, b) => {
    const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const where = (node) => {
    const parts = [];
    for (let n = node; n && n !== document.body; n = n.parentElement) {
      if (n.id) { parts.unshift(`#${n.id}`); break; }
      parts.unshift(`${n.tagName.toLowerCase()}:${Array.from(n.parentElement.children).indexOf(n)}`);
    }
    return parts.join(' > ');
  };
  const fields = ['INPUT', 'SELECT', 'TEXTAREA'];
  const out = {};
  for (const node of document.querySelectorAll('body *')) {
    if (['SCRIPT', 'STYLE', 'OPTION', 'svg'].includes(node.tagName)) continue;
    if (['color', 'checkbox', 'hidden', 'file'].includes(node.type)) continue;
    if (!node.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    const texts = Array.from(node.childNodes).filter((c) => c.nodeType === 3);
    const own = texts.map((c) => c.textContent).join('').trim();
    if (!own && !fields.includes(node.tagName)) continue;
    const style = getComputedStyle(node);
    const fg = parse(node instanceof SVGElement ? style.fill : style.color);
    if (!fg) continue;
    const bg = behind(node);
    const background = `rgb(${bg.slice(0, 3).map(Math.round).join(', ')})`;
    const text = (own || node.value || '').slice(0, 40);
    out[where(node)] = { text, ratio: ratio(over(fg, bg), bg), color: style.color, background };
  }
  return out;
}"""


def measure(browse, path: str, scheme: str) -> dict:
    """{element: {text, ratio, ...}} of a page in a colour scheme."""
    browse.page.emulate_media(color_scheme=scheme)
    page = browse.goto(path)
    page.wait_for_timeout(300)  # the pages' own requests have settled (networkidle); let them paint
    return page.evaluate(MEASURE)


def seed(browse) -> int:
    """Labeled and unlabeled photos, a finished run with guesses; the run's id."""
    labeled = {f"beer_{i}.jpg": class_photo(0, i) for i in range(4)} | {
        f"wings_{i}.jpg": class_photo(1, i) for i in range(3)
    }
    stored = []
    for name, data in labeled.items():
        stored += browse.upload({name: data}, label=name.split("_")[0])
    stored += browse.upload({"new_0.jpg": class_photo(0, 20), "new_1.jpg": class_photo(1, 21)})
    guesses = {r["photo"]["id"]: ("beer" if "beer" in r["filename"] else "wings") for r in stored}
    return finished_run(browse.live, ["beer", "wings"], guesses)


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["desktop", "phone"])
def test_dark_scheme_keeps_the_contrast_of_the_light_one(browse, viewport):
    run_id = seed(browse)
    pages = ["/", "/label", "/photos", "/classes", "/train", f"/runs/{run_id}", "/gallery", "/settings"]
    failures, compared = [], 0
    for path in pages:
        light = measure(browse, path, "light")
        dark = measure(browse, path, "dark")
        body = browse.page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert body != "rgb(245, 246, 248)" and sum(map(int, body[4:-1].split(","))) < 3 * 60, body
        browse.shot(f"dark {path}")
        passing = {k: v for k, v in light.items() if v["ratio"] >= AA}
        assert len(passing) >= 10, f"{path}: only {len(passing)} texts measured in the light scheme"
        missing = set(passing) - set(dark)
        assert len(missing) <= len(passing) // 10, (
            f"{path}: not measured in the dark scheme: {sorted(missing)}"
        )
        for key, seen in passing.items():
            if key in dark:
                compared += 1
                if dark[key]["ratio"] < AA:
                    failures.append(f"{path} {key} {dark[key]} (light {seen['ratio']:.2f})")
    assert not failures, (
        f"{len(failures)} of {compared} texts lose AA contrast in the dark scheme:\n"
        + "\n".join(failures[:60])
    )
    browse.page.emulate_media(color_scheme="dark")
    page = browse.goto("/label")
    expect(page.locator("#label-image")).to_be_visible()
    browse.shot("dark label")
