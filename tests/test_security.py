"""CSRF enforcement (when on) and the security headers: a strict Content-Security-Policy on every response."""

import io
import re

import pytest

from tests.accounts import session_client
from tests.images import phone_jpeg

PAGES = ["/", "/label", "/photos", "/classes", "/train", "/gallery"]
META_RE = re.compile(r'<meta\s+name="csrf-token"\s+content="([^"]+)"')


@pytest.fixture
def app_config(app_config):
    """The shared test config with CSRF checks turned on."""
    return {**app_config, "WTF_CSRF_ENABLED": True}


@pytest.fixture
def client(app):
    """A client signed in with a session cookie, as a browser is: CSRF applies to it (tokens skip it)."""
    return session_client(app)


def assert_json_error(response, status: int) -> str:
    assert response.status_code == status, response.data[:300]
    body = response.get_json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"].strip()
    return body["error"]


def api_token(client) -> str:
    response = client.get("/api/v1/csrf-token")
    assert response.status_code == 200
    token = response.get_json()["csrf_token"]
    assert isinstance(token, str) and len(token) > 20
    return token


def class_names(client) -> set[str]:
    return {c["name"] for c in client.get("/api/v1/classes").get_json()}


def csp_directives(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, "no Content-Security-Policy header"
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


# ---------------------------------------------------------------- CSRF


def test_post_without_token_is_refused_as_json(client):
    error = assert_json_error(client.post("/api/v1/classes", json={"name": "pizza"}), 400)
    assert "pizza" not in class_names(client)
    assert "token" in error.lower() or "csrf" in error.lower() or "refused" in error.lower()


def test_post_with_token_from_the_api_works(client):
    token = api_token(client)
    response = client.post("/api/v1/classes", json={"name": "pizza"}, headers={"X-CSRFToken": token})
    assert response.status_code == 201
    assert "pizza" in class_names(client)


def test_post_with_token_from_a_page_meta_tag_works(client):
    page = client.get("/")
    assert page.status_code == 200
    match = META_RE.search(page.get_data(as_text=True))
    assert match, "no <meta name=csrf-token> on /"
    response = client.post("/api/v1/classes", json={"name": "fries"}, headers={"X-CSRFToken": match.group(1)})
    assert response.status_code == 201


def test_wrong_token_is_refused(client):
    api_token(client)
    assert_json_error(
        client.post("/api/v1/classes", json={"name": "pizza"}, headers={"X-CSRFToken": "nope"}), 400
    )
    assert "pizza" not in class_names(client)


def test_token_from_another_session_is_refused(app, client):
    other = session_client(app)
    token = api_token(other)
    assert_json_error(
        client.post("/api/v1/classes", json={"name": "pizza"}, headers={"X-CSRFToken": token}), 400
    )


def test_upload_needs_the_token(client):
    files = {"files": [(io.BytesIO(phone_jpeg()), "a.jpg")]}
    assert_json_error(client.post("/api/v1/photos", data=files, content_type="multipart/form-data"), 400)
    assert client.get("/api/v1/photos").get_json()["total"] == 0
    files = {"files": [(io.BytesIO(phone_jpeg()), "a.jpg")]}
    response = client.post(
        "/api/v1/photos",
        data=files,
        content_type="multipart/form-data",
        headers={"X-CSRFToken": api_token(client)},
    )
    assert response.status_code == 200 and response.get_json()["results"][0]["status"] == "stored"


def test_patch_and_delete_need_the_token(client):
    beer = next(c for c in client.get("/api/v1/classes").get_json() if c["name"] == "beer")
    assert_json_error(client.patch(f"/api/v1/classes/{beer['id']}", json={"name": "lager"}), 400)
    assert_json_error(client.delete(f"/api/v1/classes/{beer['id']}"), 400)
    assert class_names(client) == {"beer", "wings"}
    token = api_token(client)
    assert (
        client.patch(
            f"/api/v1/classes/{beer['id']}", json={"name": "lager"}, headers={"X-CSRFToken": token}
        ).status_code
        == 200
    )


def test_a_form_body_is_not_read_as_no_body(app, client):
    # The CSRF check reads form bodies (looking for csrf_token), which used up `curl -d '{'`: the view then
    # saw an empty body and started a 5-epoch run with the defaults. A body that is not JSON is now refused.
    from tests.test_api_runs import fake_files, insert_run, labeled

    client.environ_base["HTTP_X_CSRFTOKEN"] = api_token(client)
    labeled(client, {"beer": 3, "wings": 3})
    run_id = insert_run(app, files=fake_files())
    for url in ("/api/v1/runs", f"/api/v1/runs/{run_id}/pin"):
        for body in ("{", "pinned=false", '{"pinned": false}'):
            response = client.post(url, data=body, content_type="application/x-www-form-urlencoded")
            assert "JSON" in assert_json_error(response, 400)
    runs = client.get("/api/v1/runs").get_json()
    assert [(r["id"], r["pinned"]) for r in runs] == [(run_id, False)]
    assert client.post("/api/v1/runs", json={"epochs": 2}).status_code == 202  # JSON with the token works


def test_reads_need_no_token(client):
    for url in ("/api/v1/classes", "/api/v1/photos", "/api/v1/dataset", "/healthz"):
        assert client.get(url).status_code == 200, url


# ---------------------------------------------------------------- headers


@pytest.mark.parametrize("url", ["/", "/api/v1/classes", "/healthz", "/api/v1/nothing-here"])
def test_csp_is_present_and_strict(client, url):
    directives = csp_directives(client.get(url))
    assert directives.get("default-src") == ["'self'"]
    for name in ("script-src", "style-src"):
        sources = directives.get(name, directives["default-src"])
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, name
        assert not any(s in ("*", "http:", "https:", "data:") for s in sources), name
    assert directives.get("object-src") == ["'none'"]
    assert directives.get("frame-ancestors") == ["'none'"]
    assert "base-uri" in directives


def test_other_security_headers(client):
    response = client.get("/api/v1/classes")
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("X-Frame-Options") == "DENY"
    assert response.headers.get("Referrer-Policy")


def test_media_carries_the_headers_too(client):
    upload = client.post(
        "/api/v1/photos",
        data={"files": [(io.BytesIO(phone_jpeg()), "a.jpg")]},
        content_type="multipart/form-data",
        headers={"X-CSRFToken": api_token(client)},
    )
    response = client.get(upload.get_json()["results"][0]["photo"]["thumbnail_url"])
    response.close()
    assert response.status_code == 200
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert "Content-Security-Policy" in response.headers


@pytest.mark.parametrize("suffix", ["%0A", "%0D%0A", "%00", "%20", "/", "x"])
@pytest.mark.parametrize("kind", ["thumbs", "display"])
def test_media_names_must_be_exactly_a_sha(client, kind, suffix):
    # "$" in a regex also matches before a trailing newline: <sha>%0A once reached the file system (500).
    token = api_token(client)
    form = {"files": [(io.BytesIO(phone_jpeg()), "a.jpg")]}
    upload = client.post(
        "/api/v1/photos", data=form, content_type="multipart/form-data", headers={"X-CSRFToken": token}
    )
    sha = upload.get_json()["results"][0]["photo"]["sha256"]
    good = client.get(f"/media/{kind}/{sha}.jpg")
    good.close()
    assert good.status_code == 200
    for name in (f"{sha}{suffix}", f"{sha.upper()}", f"{sha[:-1]}{suffix}"):
        response = client.get(f"/media/{kind}/{name}.jpg", headers={"Accept": "application/json"})
        response.close()
        assert response.status_code == 404, name


@pytest.mark.parametrize("url", PAGES)
def test_pages_have_no_inline_code(client, url):
    # the strict CSP blocks inline scripts, event handlers and style attributes: a page using them is broken
    response = client.get(url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert META_RE.search(html)
    for tag in re.findall(r"<script\b[^>]*>", html, flags=re.I):
        assert "src=" in tag, tag
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html, flags=re.I), "inline script body"
    assert not re.search(r"\son[a-z]+\s*=", html, flags=re.I), "inline event handler"
    assert not re.search(r"\sstyle\s*=", html, flags=re.I), "inline style attribute"
    assert "javascript:" not in html.lower()
