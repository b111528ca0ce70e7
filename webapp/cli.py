"""`flask --app webapp ...` commands: import, export, train, predict; they call the same services and jobs."""

import csv
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


def init_app(app: Flask) -> None:
    """Register the commands."""
    for command in (import_command, export_command, train_command, predict_command, user_group):
        app.cli.add_command(command)


@click.command("import")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def import_command(path: Path) -> None:
    """Import a folder or .zip laid out as train|val|test/<class>/* or <class>/*."""
    from webapp.services.dataset_io import import_path, summarise

    results = import_path(path)
    counts = summarise(results)
    for r in results:
        if r.status == "rejected":
            click.echo(f"rejected  {r.filename}: {r.error}")
    click.echo(
        f"{counts['stored']} stored, {counts['duplicate']} duplicates skipped, {counts['rejected']} rejected"
    )


@click.command("export")
@with_appcontext
@click.argument("path", type=click.Path(path_type=Path))
def export_command(path: Path) -> None:
    """Export the labeled photos to PATH (a .zip, or a folder) with a CSV manifest."""
    from webapp.services.dataset_io import export_folder, export_zip

    if path.suffix.lower() == ".zip":
        count = export_zip(path)
    else:
        if path.exists() and any(path.iterdir()):
            raise click.ClickException(f"{path} is not empty; choose a new folder")
        count = export_folder(path)
    click.echo(f"exported {count} labeled photos to {path}")


@click.command("train")
@with_appcontext
@click.option("--epochs", type=int)
@click.option("--batch-size", type=int)
@click.option("--learning-rate", type=float)
@click.option("--trainable-layers", type=int)
def train_command(**options) -> None:
    """Train a model now, in this process, and print its test metrics."""
    from webapp.services.errors import ServiceError
    from webapp.services.runs import create_run, get_run
    from webapp.worker.jobs import train_run

    body = {k: v for k, v in options.items() if v is not None}
    cfg = current_app.config
    try:
        run = create_run(body, cfg["BACKBONE_WEIGHTS"], cfg["IMAGE_SIZE"])
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"run {run.id} started")
    train_run(run.id)
    run = get_run(run.id)
    if run.status != "succeeded":
        raise click.ClickException(f"run {run.id} {run.status}: {run.error}")
    click.echo(f"run {run.id} succeeded: test accuracy {run.metrics['accuracy']:.3f}")


@click.command("predict")
@with_appcontext
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--csv", "as_csv", is_flag=True, help="print CSV: path,label,confidence,probabilities...")
def predict_command(paths: tuple[Path, ...], as_csv: bool) -> None:
    """Print the active model's prediction for photo files or folders."""
    from webapp.worker.cli_predict import NoModelYet, predict_files

    try:
        labels, rows = predict_files(paths)
    except NoModelYet as exc:
        raise click.ClickException(str(exc)) from None
    writer = csv.writer(sys.stdout) if as_csv else None
    if writer:
        writer.writerow(["path", "label", "confidence", *labels])
    for path, result in rows:
        if writer:
            probs = [f"{result['probabilities'].get(n, 0):.4f}" for n in labels] if "label" in result else []
            writer.writerow([path, result.get("label", ""), f"{result.get('confidence', 0):.4f}", *probs])
        elif "label" in result:
            click.echo(f"{path}\t{result['label']}\t{result['confidence']:.3f}")
        else:
            click.echo(f"{path}\trejected: {result['error']}")


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
