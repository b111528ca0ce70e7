"""Accounts and tokens (DESIGN.md "Accounts and tokens"): who may reach what, sign-in, roles, links, hosts."""

import re
from datetime import timedelta

import pytest

from tests.accounts import ADMIN, PASSWORD, make_admin, session_client, token_client
from webapp import create_app
from webapp.db import db
from webapp.db.models import OneTimeLink, utcnow
from webapp.services import accounts

OPEN_PATHS = ["/healthz", "/login", "/static/css/app.css"]
PAGES = ["/", "/label", "/photos", "/classes", "/train", "/gallery", "/settings"]
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(client, name=ADMIN, password=PASSWORD, next_path=None, csrf=None):
    """POST the login form as a browser does (fetching the form's CSRF token first)."""
    page = client.get("/login").get_data(as_text=True)
    data = {"username": name, "password": password, "csrf_token": csrf or CSRF_RE.search(page).group(1)}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/login", data=data)


@pytest.fixture
def labeler(app):
    """A client signed in (by token) as a labeler."""
    return token_client(app, make_admin(app, "lee", "labeler-password", role="labeler"))


# ---------------------------------------------------------------- without a session or a token


def test_api_without_credentials_is_401_json(anon_client):
    for path in ("/api/v1/classes", "/api/v1/photos", "/api/v1/runs", "/api/v1/dataset"):
        response = anon_client.get(path)
        assert response.status_code == 401, path
        assert "Sign in" in response.get_json()["error"]
    assert anon_client.post("/api/v1/classes", json={"name": "x"}).status_code == 401


def test_pages_without_a_session_redirect_to_login_with_next(anon_client):
    for path in PAGES:
        response = anon_client.get(path + "?a=1")
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=")
        assert path in response.headers["Location"]


def test_open_routes_need_nothing(app, anon_client):
    make_admin(app)
    for path in OPEN_PATHS:
        with anon_client.get(path) as response:
            assert response.status_code == 200, path
    assert anon_client.get("/pair/not-a-token").status_code == 404  # reached, and says the link is bad
    assert anon_client.get("/setup/not-a-token").status_code == 410  # the test app has an admin already


def test_a_wrong_or_revoked_token_is_401(app, anon_client):
    assert anon_client.get("/api/v1/classes", headers={"Authorization": "Bearer nope"}).status_code == 401
    token = make_admin(app, "temp", "temp-password", "admin")
    headers = {"Authorization": f"Bearer {token}"}
    assert anon_client.get("/api/v1/classes", headers=headers).status_code == 200
    with app.app_context():
        accounts.revoke_token(accounts.list_tokens()[0].id)
    assert anon_client.get("/api/v1/classes", headers=headers).status_code == 401


# ---------------------------------------------------------------- signing in


def test_login_signs_in_and_goes_to_next(app, anon_client):
    make_admin(app)
    response = login(anon_client, next_path="/train?x=1")
    assert response.status_code == 302 and response.headers["Location"] == "/train?x=1"
    assert anon_client.get("/train").status_code == 200
    assert anon_client.get("/api/v1/classes").status_code == 200


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_login_never_redirects_off_site(app, anon_client, target):
    make_admin(app)
    assert login(anon_client, next_path=target).headers["Location"] == "/"


def test_wrong_password_is_401_in_plain_words(app, anon_client):
    make_admin(app)
    response = login(anon_client, password="wrong-password")
    assert response.status_code == 401
    assert "do not match" in response.get_data(as_text=True)
    assert anon_client.get("/api/v1/classes").status_code == 401


def test_session_cookie_is_httponly_lax_and_secure_only_on_https(app):
    make_admin(app)
    plain = app.test_client()
    cookie = login(plain).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = app.test_client()
    page = secure.get("/login", base_url="https://localhost").get_data(as_text=True)
    data = {"username": ADMIN, "password": PASSWORD, "csrf_token": CSRF_RE.search(page).group(1)}
    cookie = secure.post("/login", data=data, base_url="https://localhost").headers["Set-Cookie"]
    assert "Secure" in cookie


def test_proxy_fix_trusts_one_proxys_https(app_config):
    app = create_app({**app_config, "PROXY_FIX": "1"})
    make_admin(app)
    client = app.test_client()
    headers = {"X-Forwarded-Proto": "https"}
    page = client.get("/login", headers=headers).get_data(as_text=True)
    data = {"username": ADMIN, "password": PASSWORD, "csrf_token": CSRF_RE.search(page).group(1)}
    assert "Secure" in client.post("/login", data=data, headers=headers).headers["Set-Cookie"]


def test_logout_is_a_post(app):
    client = session_client(app)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 302
    assert client.get("/api/v1/classes").status_code == 401


def test_five_failures_per_name_then_429_with_retry_after(app, anon_client):
    make_admin(app)
    for _ in range(5):
        assert login(anon_client, password="wrong-password").status_code == 401
    blocked = login(anon_client)  # even the right password waits now
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in blocked.get_data(as_text=True)


def test_five_failures_from_one_address_then_429(app, anon_client):
    make_admin(app)
    for i in range(5):
        assert login(anon_client, name=f"nobody{i}", password="wrong-password").status_code == 401
    assert login(anon_client, name="someone-else").status_code == 429


def test_successful_sign_ins_do_not_count(app):
    make_admin(app)
    for _ in range(7):
        assert login(app.test_client()).status_code == 302


# ---------------------------------------------------------------- tokens need no CSRF, sessions do


@pytest.fixture
def csrf_app(app_config):
    return create_app({**app_config, "WTF_CSRF_ENABLED": True})


def test_token_requests_need_no_csrf_token(csrf_app):
    client = token_client(csrf_app)
    assert client.post("/api/v1/classes", json={"name": "pizza"}).status_code == 201


def test_session_requests_need_the_csrf_token(csrf_app):
    client = session_client(csrf_app)
    assert client.post("/api/v1/classes", json={"name": "pizza"}).status_code == 400
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    response = client.post("/api/v1/classes", json={"name": "pizza"}, headers={"X-CSRFToken": token})
    assert response.status_code == 201


def test_login_form_needs_its_csrf_token(csrf_app):
    make_admin(csrf_app)
    client = csrf_app.test_client()
    assert login(client, csrf="forged").status_code == 400


# ---------------------------------------------------------------- roles


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/v1/runs"),
        ("post", "/api/v1/runs/1/cancel"),
        ("post", "/api/v1/runs/1/pin"),
        ("delete", "/api/v1/runs/1/files"),
        ("delete", "/api/v1/classes/1"),
        ("post", "/api/v1/trash/empty"),
        ("get", "/api/v1/users"),
        ("post", "/api/v1/users"),
        ("get", "/api/v1/tokens"),
        ("post", "/api/v1/tokens"),
        ("delete", "/api/v1/tokens/1"),
    ],
)
def test_a_labeler_is_refused_admin_work_with_403(labeler, method, path):
    response = getattr(labeler, method)(path)
    assert response.status_code == 403
    assert "Only an admin" in response.get_json()["error"]


def test_a_labeler_uploads_labels_and_views(labeler):
    import io

    from tests.images import phone_jpeg

    stored = labeler.post("/api/v1/photos", data={"files": [(io.BytesIO(phone_jpeg()), "a.jpg")]})
    photo = stored.get_json()["results"][0]["photo"]
    assert labeler.patch(f"/api/v1/photos/{photo['id']}", json={"label": "beer"}).status_code == 200
    assert labeler.post("/api/v1/classes", json={"name": "pizza"}).status_code == 201
    for path in ("/", "/label", "/photos", "/train", "/gallery"):
        assert labeler.get(path).status_code == 200, path
    assert labeler.get("/settings").status_code == 403
    assert labeler.get("/api/v1/me").get_json()["role"] == "labeler"


# ---------------------------------------------------------------- first start: the setup link


@pytest.fixture
def empty_app(app_config):
    """An app with no user yet (as on a first start)."""
    return create_app(app_config)


def test_setup_link_creates_the_first_admin_once(empty_app):
    with empty_app.app_context():
        token = accounts.new_link("setup")
    client = empty_app.test_client()
    assert client.get(f"/setup/{token}").status_code == 200
    data = {"username": "ann", "password": "first-password", "confirm": "first-password", "csrf_token": ""}
    response = client.post(f"/setup/{token}", data=data)
    assert response.status_code == 302
    assert client.get("/api/v1/me").get_json() == {**client.get("/api/v1/me").get_json(), "role": "admin"}
    again = empty_app.test_client().post(f"/setup/{token}", data={**data, "username": "mallory"})
    assert again.status_code == 410
    with empty_app.app_context():
        assert [u.name for u in accounts.list_users()] == ["ann"]


def test_setup_refuses_a_bad_token_and_short_or_differing_passwords(empty_app):
    with empty_app.app_context():
        token = accounts.new_link("setup")
    client = empty_app.test_client()
    assert client.get("/setup/wrong-token").status_code == 404
    short = {"username": "ann", "password": "short", "confirm": "short"}
    assert "at least 8" in client.post(f"/setup/{token}", data=short).get_data(as_text=True)
    differ = {"username": "ann", "password": "first-password", "confirm": "other-password"}
    assert client.post(f"/setup/{token}", data=differ).status_code == 400
    with empty_app.app_context():
        assert not accounts.has_users()


def test_login_page_explains_the_first_start(empty_app):
    assert "setup link" in empty_app.test_client().get("/login").get_data(as_text=True)


# ---------------------------------------------------------------- phone pairing


def test_pairing_link_signs_a_phone_in_as_the_same_user_once(app, labeler):
    made = labeler.post("/api/v1/pairings")
    assert made.status_code == 201
    body = made.get_json()
    assert body["qr_svg"].startswith("data:image/svg+xml") and body["minutes"] == 10
    assert body["reachable"] is False and "--host 0.0.0.0" in body["hint"]  # the test app listens nowhere
    path = "/" + body["url"].split("/", 3)[3]
    phone = app.test_client()
    assert phone.get(path).status_code == 200
    assert phone.post(path).status_code == 302
    assert phone.get("/api/v1/me").get_json()["name"] == "lee"  # a labeler's QR signs in a labeler
    other = app.test_client()
    assert other.post(path).status_code == 404
    assert other.get("/api/v1/me").status_code == 401


def test_an_expired_pairing_link_is_refused(app, client):
    path = "/" + client.post("/api/v1/pairings").get_json()["url"].split("/", 3)[3]
    with app.app_context():
        link = db.session.scalars(db.select(OneTimeLink)).one()
        link.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    phone = app.test_client()
    assert phone.post(path).status_code == 404
    assert "expired" in phone.get(path).get_data(as_text=True)


def test_pairing_url_uses_a_lan_address_when_listening_on_all(app_config):
    from webapp.web.hosts import lan_addresses

    app = create_app({**app_config, "LISTEN_HOST": "0.0.0.0", "LISTEN_PORT": 5123})
    body = token_client(app).post("/api/v1/pairings").get_json()
    if lan_addresses():
        assert body["url"].startswith(f"http://{lan_addresses()[0]}:5123/pair/") and body["reachable"]


# ---------------------------------------------------------------- the Host check (DNS rebinding)


def test_other_host_headers_get_400(client):
    assert client.get("/api/v1/classes", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/", headers={"Host": "evil.example:5000"}).status_code == 400
    assert client.get("/api/v1/classes", headers={"Host": "127.0.0.1:5000"}).status_code == 200


def test_trusted_hosts_follow_where_the_app_listens(app_config):
    import socket

    app = create_app({**app_config, "LISTEN_HOST": "0.0.0.0", "TRUSTED_HOSTS": "photos.example"})
    client = token_client(app)
    for host in (socket.gethostname(), "photos.example", "localhost"):
        assert client.get("/api/v1/classes", headers={"Host": host}).status_code == 200, host
    assert client.get("/api/v1/classes", headers={"Host": "evil.example"}).status_code == 400


# ---------------------------------------------------------------- flask user ...


def test_cli_user_commands(app, runner, anon_client):
    added = runner.invoke(
        args=["user", "add", "kim", "--role", "labeler", "--password-stdin"], input="kim-pass-1\n"
    )
    assert added.exit_code == 0, added.output
    assert "kim\tlabeler" in runner.invoke(args=["user", "list"]).output
    token = runner.invoke(args=["user", "token", "kim", "--label", "script"]).output.strip().splitlines()[-1]
    me = anon_client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["name"] == "kim"
    changed = runner.invoke(args=["user", "password", "kim", "--password-stdin"], input="kim-pass-2\n")
    assert changed.exit_code == 0
    assert login(anon_client, "kim", "kim-pass-2").status_code == 302
    assert runner.invoke(args=["user", "remove", "kim"]).exit_code == 0
    assert anon_client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_cli_refuses_bad_input_in_plain_words(app, runner):
    make_admin(app)
    short = runner.invoke(args=["user", "add", "kim", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least 8" in short.output
    assert "no user" in runner.invoke(args=["user", "token", "ghost"]).output.lower()
    assert "only admin" in runner.invoke(args=["user", "remove", ADMIN]).output


# ---------------------------------------------------------------- what the terminal prints on start


def test_start_lines_offer_a_setup_link_only_on_a_first_start(empty_app):
    from webapp.web.announce import start_lines

    lines = start_lines(empty_app, "127.0.0.1", 5000)
    setup = next(line for line in lines if "/setup/" in line)
    assert "http://127.0.0.1:5000/setup/" in setup
    with empty_app.app_context():
        assert accounts.link_is_live("setup", setup.rsplit("/", 1)[1])
    make_admin(empty_app)
    assert not any("/setup/" in line for line in start_lines(empty_app, "127.0.0.1", 5000))
