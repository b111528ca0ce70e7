"""JSON API: who am I, users and API tokens (admins), and phone pairing links (anyone signed in)."""

import segno
from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user

from webapp.db.models import ApiToken, User, iso
from webapp.services import accounts
from webapp.web import hosts
from webapp.web.auth import admin_only
from webapp.web.requests import field, json_body

bp = Blueprint("api_accounts", __name__, url_prefix="/api/v1")
USER_FIELDS = {"name": field("string"), "password": field("string"), "role": field("string")}
TOKEN_FIELDS = {"label": field("string")}


def user_json(user: User) -> dict:
    """A user (never the password hash)."""
    return {"id": user.id, "name": user.name, "role": user.role, "created_at": iso(user.created_at)}


def token_json(token: ApiToken) -> dict:
    """A token's description (its secret is shown only once, when made)."""
    return {
        "id": token.id,
        "user": token.user.name,
        "label": token.label,
        "prefix": token.prefix,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at),
    }


@bp.get("/me")
def me():
    """The signed-in user."""
    return jsonify(user_json(current_user))


@bp.get("/users")
@admin_only("see the users")
def list_users():
    """Every user."""
    return jsonify([user_json(u) for u in accounts.list_users()])


@bp.post("/users")
@admin_only("add users")
def add_user():
    """Add a user: {"name", "password", "role": "admin"|"labeler"}."""
    body = json_body(USER_FIELDS)
    user = accounts.create_user(body.get("name"), body.get("password"), body.get("role", "labeler"))
    return jsonify(user_json(user)), 201


@bp.delete("/users/<id:user_id>")
@admin_only("remove users")
def remove_user(user_id: int):
    """Remove a user and their tokens."""
    accounts.delete_user(accounts.get_user_by_id(user_id), acting=current_user)
    return jsonify({"deleted": user_id})


@bp.get("/tokens")
@admin_only("see API tokens")
def list_tokens():
    """Every API token (descriptions only)."""
    return jsonify([token_json(t) for t in accounts.list_tokens()])


@bp.post("/tokens")
@admin_only("make API tokens")
def new_token():
    """A new API token for the signed-in admin: {"label"} -> the token, shown this once."""
    token, raw = accounts.new_api_token(
        current_user, json_body(TOKEN_FIELDS, required=False).get("label", "")
    )
    return jsonify({**token_json(token), "token": raw}), 201


@bp.delete("/tokens/<id:token_id>")
@admin_only("revoke API tokens")
def revoke_token(token_id: int):
    """Revoke an API token."""
    accounts.revoke_token(token_id)
    return jsonify({"revoked": token_id})


@bp.post("/pairings")
def new_pairing():
    """A single-use link (and its QR code) that signs a phone in as the current user for 10 minutes."""
    minutes = current_app.config["PAIR_MINUTES"]
    base, reachable = phone_base_url()
    raw = accounts.new_link("pair", current_user, minutes=minutes)
    url = f"{base}/pair/{raw}"
    qr = segno.make(url, error="m")
    return jsonify(
        {
            "url": url,
            "minutes": minutes,
            "reachable": reachable,
            "qr_svg": qr.svg_data_uri(scale=5, border=2),
            "hint": None if reachable else restart_hint(),
        }
    ), 201


def phone_base_url() -> tuple[str, bool]:
    """The address a phone on the same network can open, and whether the app listens where it can."""
    listen = current_app.config.get("LISTEN_HOST") or request.host.rsplit(":", 1)[0]
    port = current_app.config.get("LISTEN_PORT") or request.host.rpartition(":")[2] or "80"
    if hosts.listens_on_all(listen):
        lan = hosts.lan_addresses()
        return (f"{request.scheme}://{lan[0]}:{port}", True) if lan else (request.host_url.rstrip("/"), False)
    return request.host_url.rstrip("/"), not hosts.is_loopback(listen.strip("[]"))


def restart_hint() -> str:
    """One sentence on how to let a phone reach the app."""
    return (
        "The app listens on this computer only: restart it with `python -m webapp --host 0.0.0.0` "
        "so a phone on the same Wi-Fi can reach it."
    )
