"""`flask --app webapp user ...`: add, list, remove users, set passwords, print API tokens."""

import sys

import click
from flask.cli import with_appcontext


@click.group("user")
def user_group() -> None:
    """Manage the people who can sign in, and their API tokens."""


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _account_call(func, *args):
    from webapp.services.errors import ServiceError

    try:
        return func(*args)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None


@user_group.command("add")
@with_appcontext
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "labeler"]), default="labeler", show_default=True)
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def user_add(name: str, role: str, password_stdin: bool) -> None:
    """Add a user who signs in with NAME and a password."""
    from webapp.services import accounts

    user = _account_call(accounts.create_user, name, _password(password_stdin), role)
    click.echo(f"added {user.name} ({user.role})")


@user_group.command("list")
@with_appcontext
def user_list() -> None:
    """List the users."""
    from webapp.services import accounts

    for user in accounts.list_users():
        click.echo(f"{user.name}\t{user.role}")


@user_group.command("remove")
@with_appcontext
@click.argument("name")
def user_remove(name: str) -> None:
    """Remove a user and their API tokens."""
    from webapp.services import accounts

    _account_call(accounts.remove_user, name)
    click.echo(f"removed {name}")


@user_group.command("password")
@with_appcontext
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def user_password(name: str, password_stdin: bool) -> None:
    """Set a user's password."""
    from webapp.services import accounts

    _account_call(accounts.set_password, name, _password(password_stdin))
    click.echo(f"password of {name} changed")


@user_group.command("token")
@with_appcontext
@click.argument("name")
@click.option("--label", default="", help="what the token is for")
def user_token(name: str, label: str) -> None:
    """Print a new API token for NAME (shown once; only its hash is kept) as the last line."""
    from webapp.services import accounts

    user = _account_call(accounts.get_user, name)
    _token, raw = _account_call(accounts.new_api_token, user, label)
    click.echo(f"API token for {user.name} (send it as 'Authorization: Bearer <token>'):")
    click.echo(raw)
