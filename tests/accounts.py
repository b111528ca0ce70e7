"""Accounts for tests: every test app gets an admin; clients carry its API token or sign in with a session."""

ADMIN = "admin"
PASSWORD = "admin-password-1"


def make_admin(app, name: str = ADMIN, password: str = PASSWORD, role: str = "admin") -> str:
    """Create a user (an admin by default) in app's database and return a new API token of theirs."""
    from webapp.db import db
    from webapp.services import accounts

    with app.app_context():
        user = accounts.find_user(name) or accounts.create_user(name, password, role)
        _token, raw = accounts.new_api_token(user, "tests")
        db.session.remove()
    return raw


def token_client(app, token: str | None = None):
    """A test client whose every request carries `Authorization: Bearer <token>` (an admin's by default)."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token or make_admin(app)}"
    return client


def session_client(app, name: str = ADMIN, password: str = PASSWORD):
    """A test client signed in through the login form, as a browser is (CSRF applies to it)."""
    import re

    make_admin(app, name, password)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    data = {"username": name, "password": password, "csrf_token": csrf.group(1) if csrf else ""}
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def config_from_env(env: dict) -> dict:
    """The create_app config of a `python -m webapp` started with env (for work in the test process)."""
    config = {k.removeprefix("WEBAPP_"): v for k, v in env.items() if k.startswith("WEBAPP_")}
    config["INSTANCE_PATH"] = env["WEBAPP_INSTANCE_PATH"]
    return config
