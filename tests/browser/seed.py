"""Runs written straight into a live app's database (real rows, from this process), for pages that show runs.

Training a model takes a worker minutes on these machines; the phone-layout and role tests only need runs to
look at: a finished one with metrics and predictions, or one waiting in the queue.
"""

from datetime import timedelta

from tests.accounts import config_from_env
from tests.live import LiveApp, _dispose


def _in_app(live: LiveApp, work):
    from webapp import create_app
    from webapp.db import db

    app = create_app(config_from_env(live.env))
    try:
        with app.app_context():
            result = work(db)
            db.session.remove()
            return result
    finally:
        _dispose(app)


def metrics_for(labels: list[str]) -> dict:
    """Plausible test-split metrics: each class mostly right, one photo confused with the next class."""
    n = len(labels)
    matrix = [[5 if i == j else (1 if j == (i + 1) % n else 0) for j in range(n)] for i in range(n)]
    per_class = {name: {"precision": 0.83, "recall": 0.83, "f1": 0.83, "support": 6} for name in labels}
    return {"accuracy": 5 / 6, "per_class": per_class, "confusion_matrix": matrix, "labels": labels}


def finished_run(
    live: LiveApp, labels: list[str], guesses: dict[int, str], metrics: dict | None = None
) -> int:
    """A succeeded run (the active model) whose predictions are guesses {photo id: label}; returns its id.

    metrics: the run's test metrics (default: metrics_for(labels))."""
    from webapp.db.models import Prediction, TrainingRun, utcnow

    def work(db):
        now = utcnow()
        history = [
            {"epoch": e, "loss": 1 / e, "accuracy": 0.5 + e / 20, "val_loss": 1.2 / e, "val_accuracy": 0.5}
            for e in range(1, 6)
        ]
        run = TrainingRun(
            status="succeeded",
            params={"epochs": 5, "batch_size": 32, "learning_rate": 0.0001, "trainable_layers": 4},
            dataset={"labels": labels, "train": 40, "val": 12, "test": 6 * len(labels)},
            progress={"epoch": 5, "epochs": 5, "history": history},
            metrics=metrics or metrics_for(labels),
            artifacts={"model": "model.keras", "bytes": 170_000_000},
            weights="none",
            image_size=32,
            started_at=now - timedelta(minutes=3),
            finished_at=now,
        )
        db.session.add(run)
        db.session.flush()
        for photo_id, label in guesses.items():
            probs = {name: (0.8 if name == label else 0.2 / (len(labels) - 1)) for name in labels}
            db.session.add(
                Prediction(run_id=run.id, photo_id=photo_id, label=label, confidence=0.8, probabilities=probs)
            )
        db.session.commit()
        return run.id

    return _in_app(live, work)


def queued_run(live: LiveApp) -> int:
    """A run waiting for a worker (nothing queued it, so it stays waiting); returns its id."""
    from webapp.db.models import TrainingRun

    def work(db):
        params = {"epochs": 5, "batch_size": 32, "learning_rate": 0.0001, "trainable_layers": 4}
        run = TrainingRun(status="queued", params=params, weights="none")
        db.session.add(run)
        db.session.commit()
        return run.id

    return _in_app(live, work)


def pairing_links(live: LiveApp) -> int:
    """How many phone pairing links the app has made."""
    from sqlalchemy import func, select

    from webapp.db.models import OneTimeLink

    return _in_app(live, lambda db: db.session.scalar(select(func.count()).where(OneTimeLink.kind == "pair")))
