"""Predicting files on disk from the command line (runs the model in the CLI process, not the web one)."""

from pathlib import Path

from flask import current_app

from webapp.db import db
from webapp.db.models import active_run
from webapp.photostore import storage
from webapp.photostore.imaging import RejectedPhoto
from webapp.photostore.storage import StoreSettings
from webapp.worker.paths import instance_path


class NoModelYet(Exception):
    """There is no trained model to predict with."""


def _files(paths) -> list[Path]:
    found = []
    for path in paths:
        found.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return found


def predict_files(paths) -> tuple[list[str], list[tuple[str, dict]]]:
    """(labels, [(path, {label, confidence, probabilities} or {error})]) with the active model."""
    from webapp.ml.pipeline import predict_arrays

    run = active_run()
    if run is None or not run.artifacts.get("model"):
        raise NoModelYet("There is no trained model yet: train one first")
    labels, folder = list(run.dataset["labels"]), instance_path() / "models" / str(run.id)
    settings = StoreSettings.from_config(current_app.config)
    db.session.rollback()
    rows = []
    for path in _files(paths):
        try:
            image = storage.model_input_from_bytes(path.read_bytes(), settings)
        except RejectedPhoto as exc:
            rows.append((str(path), {"error": exc.message}))
            continue
        probs = predict_arrays(folder, [image])[0]
        best = int(probs.argmax())
        rows.append(
            (
                str(path),
                {
                    "label": labels[best],
                    "confidence": float(probs[best]),
                    "probabilities": dict(zip(labels, map(float, probs), strict=True)),
                },
            )
        )
    return labels, rows
