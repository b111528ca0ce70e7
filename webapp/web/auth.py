"""Who is asking: a signed-in person (session cookie, CSRF checked) or a script (Bearer token, no CSRF).

Every route needs one of them except the OPEN ones; API calls without get 401 JSON, pages redirect to /login.
Roles: an admin may do everything, a labeler uploads, labels, views and tries photos.
"""

import functools

from flask import Flask, g, jsonify, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user

from webapp.db import db
from webapp.db.setup import reading
from webapp.services import accounts
from webapp.services.errors import Forbidden
from webapp.web.security import csrf

login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)
OPEN_ENDPOINTS = {"static", "health.healthz", "auth.login", "auth.setup", "auth.pair"}
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie: HttpOnly, SameSite=Lax, and Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure on HTTPS requests (behind a proxy, with WEBAPP_PROXY_FIX=1), or when configured."""
        return request.is_secure or bool(app.config["SESSION_COOKIE_SECURE"])


def init_app(app: Flask) -> None:
    """Sessions, tokens, the sign-in rate limit and the guard in front of every route."""
    app.session_interface = SessionInterface()
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked in _guard, only for cookie sessions
    app.config.setdefault("RATELIMIT_STORAGE_URI", _limiter_storage(app.config.get("QUEUE_URL")))
    login_manager.init_app(app)
    login_manager.user_loader(_load_user)
    login_manager.request_loader(_user_from_token)
    limiter.init_app(app)
    app.before_request(_guard)


def _limiter_storage(queue_url: str | None) -> str:
    # With Redis configured every web process counts the same failed sign-ins.
    if queue_url and queue_url.startswith(("redis://", "rediss://")):
        return queue_url
    return "memory://"


def _load_user(user_id: str):
    from webapp.db.models import User

    return _read_detached(lambda: db.session.get(User, int(user_id))) if user_id.isdecimal() else None


def _read_detached(load):
    # Who is asking is a read: it must not take (or wait for) SQLite's write lock, even on a POST whose own
    # work is done file by file. The user is detached with its columns loaded and the transaction ended.
    with reading():
        try:
            user = load()
            if user is not None:
                db.session.expunge(user)
            return user
        finally:
            db.session.rollback()


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer ...` header, if the request has one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _user_from_token(_request):
    token = bearer_token()
    if token is None:
        return None
    user = _read_detached(lambda: accounts.user_for_token(token))
    g.via_token = user is not None
    return user


def _guard():
    if request.routing_exception is not None:  # an untrusted Host or an unknown URL: Flask answers 400/404
        return None
    if bearer_token() is not None and not current_user.is_authenticated:
        return _unauthorized("The API token is not valid (it may have been revoked)")
    if request.endpoint not in OPEN_ENDPOINTS and not current_user.is_authenticated:
        return _unauthorized("Sign in first, or send an API token (Authorization: Bearer ...)")
    if request.method in UNSAFE_METHODS and not g.get("via_token") and _csrf_enabled():
        csrf.protect()
    return None


def _csrf_enabled() -> bool:
    from flask import current_app

    return current_app.config.get("WTF_CSRF_ENABLED", True)


def _unauthorized(message: str):
    if request.path.startswith("/api/") or bearer_token() is not None:
        return jsonify({"error": message}), 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def user_without_lookup() -> None:
    """Render the rest of this request as signed out unless the user is loaded already (error pages must not
    read the database again: it may be the very thing that failed)."""
    if "_login_user" not in g:
        g._login_user = login_manager.anonymous_user()


def admin_only(action: str):
    """A view only admins may call; others get 403 saying what they cannot do."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_admin:
                raise Forbidden(f"Only an admin can {action}; you are signed in as a {current_user.role}")
            return view(*args, **kwargs)

        wrapper.admin_action = action  # the OpenAPI document lists 403 for it
        return wrapper

    return decorate
