"""Accounts: users with roles, API tokens, and single-use sign-in links (first-start setup, phone pairing).

Passwords are hashed with werkzeug.security; tokens are random and only their SHA-256 is stored.
"""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.db import db
from webapp.db.models import ROLES, ApiToken, OneTimeLink, User, utcnow
from webapp.services.errors import Conflict, InvalidInput, NotFound

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
TOKEN_PREFIX = "pt_"
# A hash to compare against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password")


def token_hash(raw: str) -> str:
    """The stored form of a random token."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def clean_user_name(name: object) -> str:
    """A valid user name: 1-64 visible characters, no spaces at either end."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("A user needs a name")
    name = name.strip()
    if len(name) > 64 or not name.isprintable():
        raise InvalidInput("A user name is at most 64 visible characters")
    return name


def check_password(password: object) -> str:
    """A password long enough to be worth having."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInput(f"A password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD or "\x00" in password:
        raise InvalidInput(f"A password is at most {MAX_PASSWORD} characters, without NUL")
    return password


def find_user(name: str) -> User | None:
    """The user with this name (case-insensitive), if any."""
    return db.session.scalar(select(User).where(func.lower(User.name) == name.strip().lower()))


def get_user(name: str) -> User:
    """The user with this name, or NotFound."""
    user = find_user(name)
    if user is None:
        raise NotFound(f'There is no user "{name}"')
    return user


def has_users() -> bool:
    """Whether anyone can sign in yet."""
    return db.session.scalar(select(func.count()).select_from(User)) > 0


def create_user(name: object, password: object, role: str = "labeler", commit: bool = True) -> User:
    """Add a user with a hashed password."""
    name, password = clean_user_name(name), check_password(password)
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    if find_user(name) is not None:
        raise Conflict(f'There is already a user named "{name}"')
    user = User(name=name, password_hash=generate_password_hash(password), role=role)
    db.session.add(user)
    if commit:
        db.session.commit()
    return user


def list_users() -> list[User]:
    """Every user, admins first."""
    return list(db.session.scalars(select(User).order_by(User.role, User.name)))


def get_user_by_id(user_id: int) -> User:
    """The user with this id, or NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no user {user_id}")
    return user


def remove_user(name: str) -> None:
    """Delete a user and their tokens (never the last admin)."""
    delete_user(get_user(name))


def delete_user(user: User, acting: User | None = None) -> None:
    """Delete a user and their tokens (never the last admin, never the user acting: they would lock out)."""
    if acting is not None and acting.id == user.id:
        raise Conflict("You cannot remove yourself; another admin can")
    if user.is_admin and _admin_count() == 1:
        raise Conflict("This is the only admin; add another admin before removing it")
    db.session.delete(user)
    db.session.commit()


def _admin_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(User.role == "admin"))


def set_password(name: str, password: object) -> None:
    """Give a user a new password."""
    user = get_user(name)
    user.password_hash = generate_password_hash(check_password(password))
    db.session.commit()


def authenticate(name: object, password: object) -> User | None:
    """The user these credentials belong to, or None (the same work either way)."""
    user = find_user(name) if isinstance(name, str) and name.strip() else None
    valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, str(password or ""))
    return user if user is not None and valid else None


def new_api_token(user: User, label: str = "") -> tuple[ApiToken, str]:
    """A new API token for user: (its row, the token itself, shown once)."""
    if len(label) > 100:
        raise InvalidInput("A token label is at most 100 characters")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, label=label, token_hash=token_hash(raw), prefix=raw[:10])
    db.session.add(token)
    db.session.commit()
    return token, raw


def user_for_token(raw: str) -> User | None:
    """The user an API token belongs to, if it is a live token."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(raw)))
    return token.user if token is not None else None


def list_tokens() -> list[ApiToken]:
    """Every API token, newest first."""
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


def revoke_token(token_id: int) -> None:
    """Revoke (delete) an API token."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"There is no token {token_id}")
    db.session.delete(token)
    db.session.commit()


def new_link(kind: str, user: User | None = None, minutes: int | None = None) -> str:
    """A single-use sign-in link token ("setup": no expiry; "pair": for user, expiring)."""
    raw = secrets.token_urlsafe(24)
    expires = utcnow() + timedelta(minutes=minutes) if minutes else None
    db.session.add(OneTimeLink(kind=kind, token_hash=token_hash(raw), user_id=user.id if user else None,
                               expires_at=expires))  # fmt: skip
    db.session.commit()
    return raw


def link_is_live(kind: str, raw: str) -> bool:
    """Whether a link token is unused, unexpired and of this kind."""
    return _live_link(kind, raw) is not None


def _live_link(kind: str, raw: str) -> OneTimeLink | None:
    link = db.session.scalar(select(OneTimeLink).where(OneTimeLink.token_hash == token_hash(raw)))
    if link is None or link.kind != kind or link.used_at is not None:
        return None
    if link.expires_at is not None and _aware(link.expires_at) < utcnow():
        return None
    return link


def _aware(value):
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _spend(link: OneTimeLink) -> bool:
    # A conditional update: of two requests with the same link, exactly one wins.
    result = db.session.execute(
        update(OneTimeLink)
        .where(OneTimeLink.id == link.id, OneTimeLink.used_at.is_(None))
        .values(used_at=utcnow())
    )
    return result.rowcount == 1


def use_setup_link(raw: str, name: object, password: object) -> User:
    """Create the first admin through the setup link (only while no user exists)."""
    link = _live_link("setup", raw)
    if link is None or has_users():
        raise NotFound("This setup link has been used or is not valid; sign in instead")
    user = create_user(name, password, role="admin", commit=False)
    if not _spend(link):
        db.session.rollback()
        raise NotFound("This setup link has just been used; sign in instead")
    db.session.commit()
    return user


def use_pairing_link(raw: str) -> User:
    """The user a phone pairing link signs in (once, before it expires)."""
    link = _live_link("pair", raw)
    if link is None or link.user_id is None or not _spend(link):
        db.session.rollback()
        raise NotFound(
            "This pairing link has expired or was used already: make a new QR code on the computer"
        )
    user = db.session.get(User, link.user_id)
    db.session.commit()
    return user
