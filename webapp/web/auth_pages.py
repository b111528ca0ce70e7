"""Sign-in pages: /login, /logout, the first-start /setup/<token> link and the phone /pair/<token> link."""

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from webapp.services import accounts
from webapp.services.errors import ServiceError
from webapp.web.auth import limiter

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_LIMIT"]


def _failed(response) -> bool:
    return response.status_code == 401


def _name_key() -> str:
    return "login-name:" + (request.form.get("username") or "").strip().lower()


def safe_next(target: str | None) -> str:
    """A local path to go to after signing in (never another site: no scheme, no //host, no backslash)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("pages.upload")
    return target


def _sign_in(user) -> None:
    session.clear()  # a new session id on sign-in (no session fixation)
    login_user(user)
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, key_func=_name_key, deduct_when=_failed, methods=["POST"], scope="login-name",
               error_message="Too many failed sign-ins for this name; wait and try again")  # fmt: skip
@limiter.limit(_login_limit, deduct_when=_failed, methods=["POST"], scope="login-address",
               error_message="Too many failed sign-ins from this address; wait and try again")  # fmt: skip
def login():
    """Sign in with a name and password."""
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(target)
        return render_template("login.html", next=target, first_start=not accounts.has_users())
    user = accounts.authenticate(request.form.get("username"), request.form.get("password"))
    if user is None:
        message = "That name and password do not match an account."
        return render_template(
            "login.html", next=target, error=message, name=request.form.get("username")
        ), 401
    _sign_in(user)
    return redirect(target)


@bp.post("/logout")
def logout():
    """Sign out."""
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/setup/<token>", methods=["GET", "POST"])
def setup(token: str):
    """The first start: pick the first admin's name and password (the link works once)."""
    if accounts.has_users():
        return render_template("setup.html", done=True), 410
    if not accounts.link_is_live("setup", token):
        return render_template("setup.html", invalid=True), 404
    if request.method == "GET":
        return render_template("setup.html", token=token)
    if request.form.get("password") != request.form.get("confirm"):
        return render_template("setup.html", token=token, error="The two passwords differ."), 400
    try:
        user = accounts.use_setup_link(token, request.form.get("username"), request.form.get("password"))
    except ServiceError as exc:
        return render_template("setup.html", token=token, error=exc.message), 400
    _sign_in(user)
    return redirect(url_for("pages.upload"))


@bp.route("/pair/<token>", methods=["GET", "POST"])
def pair(token: str):
    """A phone opens the QR code's link: one tap signs it in as the user who made the code."""
    if not accounts.link_is_live("pair", token):
        return render_template("pair.html", invalid=True), 404
    if request.method == "GET":
        return render_template("pair.html", token=token)
    try:
        user = accounts.use_pairing_link(token)
    except ServiceError:
        return render_template("pair.html", invalid=True), 404
    _sign_in(user)
    return redirect(url_for("pages.upload"))
