"""Backbone weights as the Train page shows them, and a failed run's cause in one sentence with its fix.

The web process never loads weights: it looks at files. An uploaded file is kept in
instance/backbone/imagenet/ under the name Keras gives it; the worker leaves <backbone>.failed.json there when
a download failed, and removes it once the weights loaded (webapp.worker.weights).
"""

import json
import os
from pathlib import Path

from flask import current_app

from webapp.db.models import TrainingRun
from webapp.params import (
    BACKBONE_TITLES,
    BACKBONES,
    IMAGENET_BYTES,
    IMAGENET_FILES,
    IMAGENET_URLS,
    UPLOADED_WEIGHTS_DIR,
)
from webapp.services import instance_path

DOWNLOAD_FAILED = "Could not get the ImageNet weights"  # how webapp.ml words a failed download


def setting_kind() -> str:
    """ "imagenet", "none" or "file": what WEBAPP_BACKBONE_WEIGHTS asks for."""
    spec = str(current_app.config["BACKBONE_WEIGHTS"]).strip().lower()
    return spec if spec in ("imagenet", "none") else "none" if spec == "random" else "file"


def uploaded_path(name: str) -> Path:
    """Where an uploaded ImageNet weights file for this backbone is kept."""
    return instance_path() / UPLOADED_WEIGHTS_DIR / IMAGENET_FILES[name]


def _keras_cached(name: str) -> bool:
    # Keras keeps downloads in $KERAS_HOME/models (default ~/.keras), or /tmp/.keras when home is read-only.
    homes = [os.environ.get("KERAS_HOME") or Path("~/.keras").expanduser(), "/tmp/.keras"]
    return any((Path(home) / "models" / IMAGENET_FILES[name]).is_file() for home in homes)


def _last_failure(name: str) -> str | None:
    marker = instance_path() / UPLOADED_WEIGHTS_DIR / f"{name}.failed.json"
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("error") or "no reason was recorded"
    except (OSError, ValueError):
        return None


def megabytes(name: str) -> str:
    """The ImageNet file's size in words ("56 MB"), in the page's binary megabytes (static/js/dom.js)."""
    return f"{round(IMAGENET_BYTES[name] / 2**20)} MB"


def weights_status(name: str) -> dict:
    """Where a backbone's weights stand: state, one sentence, the last failure and whether an upload helps."""
    kind, title = setting_kind(), BACKBONE_TITLES[name]
    status = {
        "backbone": name,
        "setting": kind,
        "bytes": IMAGENET_BYTES[name],
        "file": IMAGENET_FILES[name],
        "download_url": IMAGENET_URLS[name],
        "last_error": None,
    }
    if kind == "none":
        return {**status, "state": "random", "message": f"{title}: random weights (a test setting)."}
    if kind == "file":
        spec = current_app.config["BACKBONE_WEIGHTS"]
        if not Path(str(spec).strip()).expanduser().exists():
            message = f"{title}: the weights file {spec} (WEBAPP_BACKBONE_WEIGHTS) does not exist."
            return {**status, "state": "missing", "message": message}
        message = f"{title}: weights from {spec} (WEBAPP_BACKBONE_WEIGHTS)."
        return {**status, "state": "file", "message": message}
    state, message, failure = _imagenet_state(name, title)
    return {**status, "state": state, "message": message, "last_error": failure}


def _imagenet_state(name: str, title: str) -> tuple[str, str, str | None]:
    """(state, sentence, last failure) with the "imagenet" setting: uploaded, cached, failed or download."""
    failure = _last_failure(name)
    if uploaded_path(name).is_file():
        return "uploaded", f"{title}: the uploaded ImageNet weights file, kept in the instance folder.", None
    if _keras_cached(name):
        return "cached", f"{title}: the ImageNet weights are on this machine (downloaded before).", None
    if failure:
        return "failed", f"{title}: the last download of the ImageNet weights failed.", failure
    words = f"{title}: the ImageNet weights (~{megabytes(name)}) are downloaded once, at the first Train."
    return "download", words, None


def all_weights_status() -> list[dict]:
    """weights_status of every backbone."""
    return [weights_status(name) for name in BACKBONES]


def run_failure(run: TrainingRun) -> dict | None:
    """A failed or cancelled run's cause in one plain sentence and the fix that fits (upload_weights,
    free_disk, train_again or none); None for other runs. The full error text stays in run.error."""
    if run.status not in ("failed", "cancelled"):
        return None
    if run.status == "cancelled":
        return {
            "kind": "cancelled",
            "summary": "The run was cancelled before it finished.",
            "fix": "train_again",
        }
    kind, error = (run.progress or {}).get("failure"), run.error or ""
    title = BACKBONE_TITLES.get((run.params or {}).get("backbone", "vgg16"), "the backbone")
    if kind == "weights" and error.startswith(DOWNLOAD_FAILED):
        summary = (
            f"Training could not start: the {title} weights could not be downloaded (no internet here?)."
        )
        return {"kind": "weights", "summary": summary, "fix": "upload_weights"}
    if kind == "weights" and run.weights == "imagenet":
        summary = f"Training could not start: the uploaded {title} weights file could not be loaded."
        return {"kind": "weights", "summary": summary, "fix": "upload_weights"}
    if kind == "weights":  # WEBAPP_BACKBONE_WEIGHTS names a file: the fix is on the server, not in a page
        summary = f"Training could not start: the {title} weights file set on the server could not be loaded."
        return {"kind": "weights", "summary": summary, "fix": None}
    if kind == "disk_full":
        summary = (
            "Training stopped: the disk is full. Delete the model files of older runs, then train again."
        )
        return {"kind": "disk_full", "summary": summary, "fix": "free_disk"}
    if "worker" in error and "stop" in error:
        return {
            "kind": "stopped",
            "summary": "The worker stopped before the run finished.",
            "fix": "train_again",
        }
    return {"kind": "error", "summary": "Training failed with an unexpected error.", "fix": "train_again"}
