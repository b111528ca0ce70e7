"""`flask --app webapp ...` commands: import, export, train, predict; they call the same services and jobs."""

import csv
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from webapp.params import BACKBONES


def init_app(app: Flask) -> None:
    """Register the commands."""
    from webapp.cli_users import user_group

    for command in (
        import_command,
        export_command,
        train_command,
        predict_command,
        check_command,
        near_duplicates_command,
        user_group,
    ):
        app.cli.add_command(command)


@click.command("import")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def import_command(path: Path) -> None:
    """Import a folder or .zip laid out as train|val|test/<class>/* or <class>/*."""
    from webapp.services.imports import import_path, summarise

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
@click.option(
    "--originals",
    is_flag=True,
    help="export the originals, with their metadata (GPS location included); "
    "by default clean copies, no metadata (JPEG, up to 1280 px)",
)
def export_command(path: Path, originals: bool) -> None:
    """Export the labeled photos to PATH (a .zip, or a folder) with a CSV manifest."""
    from webapp.services.exports import CLEAN, KINDS, ORIGINALS, export_folder, export_zip

    kind = ORIGINALS if originals else CLEAN
    if path.suffix.lower() == ".zip":
        count = export_zip(path, kind)
    else:
        if path.exists() and any(path.iterdir()):
            raise click.ClickException(f"{path} is not empty; choose a new folder")
        count = export_folder(path, kind)
    click.echo(f"exported {count} labeled photos ({KINDS[kind]}) to {path}")


@click.command("train")
@with_appcontext
@click.option("--epochs", type=int)
@click.option("--batch-size", type=int)
@click.option("--learning-rate", type=float)
@click.option("--trainable-layers", type=int)
@click.option("--backbone", type=click.Choice(BACKBONES), help="default: WEBAPP_BACKBONE")
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
    click.echo(f"run {run.id} started ({run.params['backbone']})")
    for warning in (run.dataset or {}).get("warnings", []):
        click.echo(f"warning: {warning}", err=True)
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


@click.command("check")
@with_appcontext
@click.option("--repair", is_flag=True, help="fix what can be fixed: re-derive copies, remove orphans")
@click.option("--full", is_flag=True, help="also hash every original and open every feature file")
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=600,
    show_default=True,
    help="seconds: newer orphan files are left alone (an upload writes its files before its row)",
)
def check_command(repair: bool, full: bool, grace: float) -> None:
    """Verify the photo store, cached features and model files against the database."""
    from webapp.services.check import check_store

    report = check_store(full=full, repair=repair, grace_seconds=grace)
    for problem in report.problems:
        state = "repaired" if problem.repaired else "left"
        note = f" ({problem.note})" if problem.note else ""
        click.echo(f"{state:8}  {problem.kind}: {problem.where}{note}")
    click.echo(report.summary())
    if report.unfixed():
        sys.exit(1)


@click.command("near-duplicates")
@with_appcontext
def near_duplicates_command() -> None:
    """Fingerprint and group the photos stored before near-duplicate groups existed (safe to run again)."""
    from webapp.services.groups import backfill_groups

    counts = backfill_groups()
    click.echo(
        f"{counts['fingerprinted']} photos fingerprinted, {counts['grouped']} joined a near-duplicate group, "
        f"{counts['missing']} without files"
    )
