"""Accounts in a real browser: signing in, the first-start setup link, pairing a phone through its QR code,
and what a labeler is offered (no Train, no deleting, no Settings)."""

import io
import re

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from tests.accounts import ADMIN, PASSWORD
from tests.browser.conftest import PHONE, open_browse, shots_dir
from tests.browser.seed import finished_run, pairing_links, queued_run
from tests.images import class_photo
from tests.live import LiveApp, app_env

pytestmark = pytest.mark.browser
LABELER, LABELER_PASSWORD = "sam", "sam-password-1"
FIRST_START = pytest.mark.parametrize("live", ["first start"], indirect=True)


@pytest.fixture
def live(request, tmp_path):
    """A fresh app; parametrized with "first start" it has no user at all (as on a first start)."""
    instance = tmp_path / "instance"
    instance.mkdir()
    app = LiveApp(instance, app_env(instance))
    app.start(with_admin=getattr(request, "param", None) != "first start")
    yield app
    app.stop()


def expected_refusal(browse, status: int, path: str) -> None:
    """The app answered status for path, as it should; nothing else went wrong (then forget that answer)."""
    answers = [line.split(": ", 1) for line in browse.watch.bad_responses]
    seen = [(where.split(" ", 1)[1], code) for where, code in answers]
    assert seen == [(browse.url + path, f"HTTP {status}")], browse.watch.problems()
    browse.watch.clear()


@pytest.mark.signed_out
def test_sign_in_wrong_password_then_right_then_out(browse):
    page = browse.page
    page.goto(browse.url + "/label")
    expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)label$"))
    page.fill("#login-username", ADMIN)
    page.fill("#login-password", "not the password")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text("That name and password do not match an account.")
    expect(page.locator("#login-username")).to_have_value(ADMIN)
    browse.shot("wrong password")
    expected_refusal(browse, 401, "/login")

    page.fill("#login-password", PASSWORD)
    with page.expect_navigation():
        page.click("#login-submit")
    expect(page).to_have_url(browse.url + "/label")
    expect(page.locator("body")).to_have_attribute("data-role", "admin")
    expect(page.locator("#nav-settings")).to_be_visible()
    browse.shot("signed in")

    with page.expect_navigation():
        page.click("#logout-button")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(browse.url + "/train")
    expect(page).to_have_url(re.compile(r"/login\?next="))


@FIRST_START
@pytest.mark.signed_out
def test_the_setup_link_makes_the_first_admin(browse):
    page = browse.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.locator("#login-first-start")).to_be_visible()
    setup = browse.live.setup_url()
    assert setup.startswith(browse.url + "/setup/")

    page.goto(setup)
    page.fill("#setup-username", "alex")
    page.fill("#setup-password", "alex-password-1")
    page.fill("#setup-confirm", "alex-password-2")
    page.click("#setup-submit")
    expect(page.locator("#setup-error")).to_have_text("The two passwords differ.")
    expected_refusal(browse, 400, setup.removeprefix(browse.url))
    browse.shot("passwords differ")
    expect(page.locator("#setup-username")).to_have_value("alex")  # only the passwords are asked again
    page.fill("#setup-password", "alex-password-1")
    page.fill("#setup-confirm", "alex-password-1")
    with page.expect_navigation():
        page.click("#setup-submit")
    expect(page).to_have_url(browse.url + "/")
    expect(page.locator("body")).to_have_attribute("data-role", "admin")
    expect(page.locator("#logout-button")).to_contain_text("alex")
    browse.shot("set up")

    # The link worked once.
    page.goto(setup)
    expect(page.locator("#setup-done")).to_be_visible()
    expected_refusal(browse, 410, setup.removeprefix(browse.url))


def decode_qr(locator) -> str:
    """The text of the QR code an <img> shows, read from its pixels as a phone's camera would."""
    picture = Image.open(io.BytesIO(locator.screenshot())).convert("L")
    found = zxingcpp.read_barcodes(picture)
    assert len(found) == 1, f"{len(found)} codes in the picture"
    return found[0].text


@pytest.mark.signed_out
def test_a_phone_signs_in_through_the_qr_code(browse, browser, request, tmp_path):
    browse.live.make_user(LABELER, LABELER_PASSWORD, "labeler")
    browse.sign_in(LABELER, LABELER_PASSWORD)
    page = browse.goto("/")
    expect(page.locator("#phone-panel")).to_be_visible()
    expect(page.locator("#pair-result")).to_be_hidden()
    assert pairing_links(browse.live) == 0, "showing the Upload page made a sign-in link"

    page.click("#pair-button")
    expect(page.locator("#pair-result")).to_be_visible()
    url = page.locator("#pair-url").inner_text()
    assert re.fullmatch(re.escape(browse.url) + r"/pair/[\w-]{20,}", url), url
    expect(page.locator("#pair-expiry")).to_contain_text("Works once, for 10 minutes (until ")
    # The app listens on 127.0.0.1 only: the panel says how to let a phone reach it.
    expect(page.locator("#pair-hint")).to_be_visible()
    expect(page.locator("#pair-hint code")).to_have_text("python -m webapp --host 0.0.0.0")
    page.wait_for_function("() => document.getElementById('pair-qr').complete")
    assert decode_qr(page.locator("#pair-qr")) == url
    assert pairing_links(browse.live) == 1
    browse.shot("pairing code")

    shots = shots_dir(request, "-phone")
    context, phone = open_browse(browser, browse.live, shots, tmp_path / "phone", PHONE, mobile=True)
    try:
        phone.page.goto(url)
        phone.page.tap("#pair-submit")
        expect(phone.page).to_have_url(browse.url + "/")
        # Signed in as the same person, with the same role; the phone gets no QR panel of its own.
        expect(phone.page.locator("body")).to_have_attribute("data-role", "labeler")
        expect(phone.page.locator("#phone-panel")).to_be_hidden()
        expect(phone.page.locator("#camera-button")).to_be_visible()
        phone.shot("phone signed in", full_page=False)
        with phone.page.expect_file_chooser() as chooser:
            phone.page.tap("#library-button")
        chooser.value.set_files([phone.write("from_the_phone.jpg", class_photo(0, 1))])
        expect(phone.page.locator("#upload-summary")).to_have_text("1 of 1 done · 1 stored")
        # The code worked once.
        phone.page.goto(url)
        expect(phone.page.locator("#pair-invalid")).to_be_visible()
        expected_refusal(phone, 404, url.removeprefix(browse.url))
        assert not phone.watch.problems(), phone.watch.problems()
    finally:
        context.close()

    # A new code is a new link.
    page.click("#pair-again")
    expect(page.locator("#pair-url")).not_to_have_text(url)
    assert decode_qr(page.locator("#pair-qr")) == page.locator("#pair-url").inner_text()


@pytest.mark.signed_out
def test_a_labeler_is_not_offered_training_or_deleting(browse):
    browse.live.make_user(LABELER, LABELER_PASSWORD, "labeler")
    browse.sign_in(ADMIN, PASSWORD)
    stored = browse.upload({f"p{i}.jpg": class_photo(i % 2, i) for i in range(2)})
    guesses = {r["photo"]["id"]: "beer" for r in stored}
    older = finished_run(browse.live, ["beer", "wings"], guesses)  # not active: it offers the pin button
    finished_run(browse.live, ["beer", "wings"], guesses)
    waiting = queued_run(browse.live)
    page = browse.page

    def offered() -> dict:
        """What the pages offer whoever is signed in (each count is of visible controls)."""
        visible = lambda selector: sum(1 for e in page.locator(selector).all() if e.is_visible())  # noqa: E731
        counts = {}
        browse.goto("/train")
        expect(page.locator("#runs-rows .run-row")).to_have_count(3)
        expect(page.locator("#dataset-rows")).not_to_contain_text("Loading")
        # Why Train is off: the data (nothing labeled yet) for an admin, the role for a labeler.
        counts["train refused by"] = page.locator("#train-button").get_attribute("aria-describedby")
        counts["delete files"] = visible(".delete-files-button")
        browse.goto(f"/runs/{waiting}")
        expect(page.locator("#run-status")).to_have_text("queued")
        counts["cancel"] = visible("#cancel-button")
        browse.goto(f"/runs/{older}")
        expect(page.locator("#run-status")).to_have_text("succeeded")
        counts["pin"] = visible("#pin-button")
        browse.goto("/classes")
        expect(page.locator(".class-row")).to_have_count(2)
        counts["delete class"] = visible(".delete-class-button")
        browse.goto("/photos?show=trash")
        counts["empty trash"] = visible("#empty-trash")
        counts["settings"] = visible("#nav-settings")
        return counts

    assert offered() == {
        "train refused by": "train-blocked",
        "delete files": 2,
        "cancel": 1,
        "pin": 1,
        "delete class": 2,
        "empty trash": 1,
        "settings": 1,
    }
    page.click("#logout-button")
    browse.sign_in(LABELER, LABELER_PASSWORD)
    assert offered() == {
        "train refused by": "train-role-note",
        "delete files": 0,
        "cancel": 0,
        "pin": 0,
        "delete class": 0,
        "empty trash": 0,
        "settings": 0,
    }
    browse.goto("/train")
    expect(page.locator("#train-role-note")).to_contain_text("Only an admin can start training")
    expect(page.locator("#train-button")).to_have_attribute("aria-describedby", "train-role-note")
    browse.shot("labeler train page")
    # Pressing Enter in a settings field does not start a run either.
    page.click("#advanced > summary")
    page.press("#epochs", "Enter")
    expect(page).to_have_url(re.compile(r"/train$"))
    assert len(browse.get("/api/v1/runs")) == 3
